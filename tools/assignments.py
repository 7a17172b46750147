"""The course's graded assignments, built and graded with Otter-Grader (`pip install -e .[course]`).

Each assignments/NN_name.ipynb is an Otter master notebook (solutions and hidden tests inside;
its Jupytext source NN_name.py beside it). This tool runs Otter on them; it grades nothing itself.

    python tools/assignments.py build                  # every master -> dist/assignments/NN_name/
    python tools/assignments.py grade NB.ipynb         # one submission: score lines per question
    python tools/assignments.py grade FOLDER --csv grades.csv   # every .ipynb under FOLDER, one CSV
    python tools/assignments.py grade NB.ipynb --public   # a student: the public tests beside NB only

`build` runs `otter assign` on each master and writes, per assignment:

    dist/assignments/NN_name/student/      the notebook to hand out, with tests/ (public tests only)
    dist/assignments/NN_name/autograder/   the solutions notebook and NN_name-autograder.zip
                                           (public and hidden tests): keep these to yourself

Student notebooks open in JupyterLab as they are and on Colab from their badge: their first cell
installs growkit with its `course` extra (Otter included) and, on Colab, writes the public tests
beside the notebook (Colab opens a notebook without its folder). The badge opens the notebook
where you publish the student folders (`--handout`, a GitHub folder URL; README, "For teachers").

`grade` runs Otter's own non-containerised grader (`otter run`, i.e. otter.api.grade_submission:
the submission is executed in a fresh kernel, then every public and hidden test runs against
it) with the autograder zip of the assignment the notebook belongs to, and prints

    alice/01_speedup_metric.ipynb (01_speedup_metric)  q1  score: 4 / 4
    ...
    alice/01_speedup_metric.ipynb (01_speedup_metric)  total  score: 10 / 10  (5.1 s to grade)

Questions graded by hand (the written answers) are listed as such and are not in the total.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
MASTERS = ROOT / "assignments"
DIST = ROOT / "dist" / "assignments"
SETUP_MARK = "# Colab: install growkit"
OTTER_PIP = "%pip install -q otter-grader"

sys.path.insert(0, str(Path(__file__).resolve().parent))
from colab import BADGE_SVG, Release  # noqa: E402  (tools/ is not a package)


def masters(names: list[str] | None = None) -> list[Path]:
    """The master notebooks, all or those named (by stem, e.g. 01_speedup_metric)."""
    found = {p.stem: p for p in sorted(MASTERS.glob("[0-9][0-9]_*.ipynb"))}
    unknown = sorted(set(names or []) - set(found))
    if unknown:
        raise SystemExit(f"no assignment named {', '.join(unknown)}: the assignments are {', '.join(found)}.")
    return [found[n] for n in names] if names else list(found.values())


# ---- build ---------------------------------------------------------------------------------

def default_handout(release: Release) -> str:
    """Where the student notebooks are published, as a GitHub folder URL: by default a sibling
    repository <Repository>-assignments (one folder per assignment, the student folder's files)."""
    return f"{release.repository}-assignments/blob/main"


def colab_url(handout: str, name: str) -> str:
    if not handout.startswith("https://github.com/"):
        raise SystemExit(f"--handout {handout!r}: give the GitHub folder the student notebooks are published in, "
                         "e.g. https://github.com/you/course-assignments/blob/main")
    return f"https://colab.research.google.com/github/{handout.removeprefix('https://github.com/')}/{name}/{name}.ipynb"


def setup_cell(release: Release, public_tests: dict[str, str]) -> str:
    """The first code cell of a student notebook: on Colab, install growkit[course] (the release
    these assignments belong to) and write the public tests into ./tests; elsewhere nothing."""
    install = release.install_cell()
    pip_line = f'GROWKIT = "{release.pip_source}"'
    if pip_line not in install:
        raise RuntimeError(f"tools/colab.py's install cell no longer sets {pip_line!r}: update tools/assignments.py.")
    install = install.replace(pip_line, f'GROWKIT = "growkit[course] @ {release.pip_source}"')
    tests = json.dumps(public_tests, indent=1)
    return (f"{install}\n\n"
            "# Colab opens this notebook without its folder: the public tests (the same files as tests/ beside\n"
            "# the notebook) are written here so that grader.check works. Existing files are kept.\n"
            f"PUBLIC_TESTS = {tests}\n"
            'if "google.colab" in sys.modules:\n'
            "    import pathlib\n\n"
            "    for _name, _text in PUBLIC_TESTS.items():\n"
            '        _path = pathlib.Path("tests") / _name\n'
            "        _path.parent.mkdir(exist_ok=True)\n"
            "        if not _path.exists():\n"
            "            _path.write_text(_text)\n")


def add_entry_cells(notebook: Path, release: Release, handout: str, tests_dir: Path) -> None:
    """Replace Otter's own Colab cell (`%pip install otter-grader`, which would install Otter
    but not growkit) with a badge and growkit's setup cell."""
    nb = nbformat.read(notebook, as_version=4)
    name = notebook.stem
    public = {p.name: p.read_text() for p in sorted(tests_dir.glob("*.py"))}
    badge = nbformat.v4.new_markdown_cell(
        f"[![Open In Colab]({BADGE_SVG})]({colab_url(handout, name)})\n\n"
        "In JupyterLab, open this notebook from its folder (tests/ beside it); on Colab, run every cell "
        "from the top (the first one installs growkit and Otter-Grader).")
    setup = nbformat.v4.new_code_cell(setup_cell(release, public))
    cells = [c for c in nb.cells if not (c.cell_type == "code" and c.source.strip() == OTTER_PIP)]
    if len(cells) != len(nb.cells) - 1:
        raise RuntimeError(f"{notebook}: expected one `{OTTER_PIP}` cell from otter assign (runs_on: colab)")
    nb.cells = [badge, setup, *cells]
    nbformat.write(nb, notebook)


def build_one(master: Path, out: Path, release: Release, handout: str) -> Path:
    """otter assign `master` into out/<name>/ (replacing it); returns that folder."""
    from otter.assign import main as otter_assign

    name = master.stem
    dest = out / name
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Otter prints a banner per notebook; the summary below says what was built.
    with contextlib.redirect_stdout(io.StringIO()):
        otter_assign(str(master), str(dest), no_pdfs=True, no_run_tests=True)
    student, autograder = dest / "student", dest / "autograder"
    zips = sorted(autograder.glob(f"{name}-autograder_*.zip"))
    if len(zips) != 1:
        raise RuntimeError(f"otter assign made {len(zips)} autograder zips in {autograder}, expected one")
    zips[0].rename(autograder / f"{name}-autograder.zip")  # a stable name for `grade`
    for folder in (student, autograder):
        add_entry_cells(folder / f"{name}.ipynb", release, handout, student / "tests")
    return dest


def build(out: Path = DIST, names: list[str] | None = None, handout: str | None = None) -> list[Path]:
    release = Release.from_pyproject()
    handout = handout or default_handout(release)
    built = []
    for master in masters(names):
        start = time.perf_counter()
        built.append(build_one(master, out, release, handout))
        print(f"built {built[-1]} ({time.perf_counter() - start:.1f} s): hand out student/, keep autograder/")
    return built


# ---- grade ---------------------------------------------------------------------------------

@dataclass
class Grade:
    submission: Path
    assignment: str
    scores: dict[str, tuple[float, float]] = field(default_factory=dict)  # question -> (score, possible)
    manual: list[str] = field(default_factory=list)  # questions graded by hand
    error: str | None = None
    seconds: float = 0.0

    @property
    def total(self) -> tuple[float, float]:
        return (sum(s for s, _ in self.scores.values()), sum(p for _, p in self.scores.values()))

    def lines(self) -> list[str]:
        tag = f"{self.submission} ({self.assignment})"  # the path as given: student folders tell them apart
        if self.error:
            return [f"{tag}: not graded: {self.error}"]
        out = [f"{tag}  {q}  score: {s:g} / {p:g}" for q, (s, p) in self.scores.items()]
        out += [f"{tag}  {q}  graded by hand" for q in self.manual]
        score, possible = self.total
        return out + [f"{tag}  total  score: {score:g} / {possible:g}  ({self.seconds:.1f} s to grade)"]


def assignment_of(notebook: Path) -> str:
    """The assignment a submitted notebook belongs to (Otter writes its name into the metadata)."""
    nb = nbformat.read(notebook, as_version=4)
    name = nb.metadata.get("otter", {}).get("assignment_name")
    if not name:
        raise ValueError("it has no Otter assignment name in its metadata: is it a notebook from "
                         "dist/assignments/*/student/?")
    return name


def manual_questions(master: Path) -> list[str]:
    """Questions the master marks `manual: true` (their answers are read, not run)."""
    import yaml

    out = []
    for cell in nbformat.read(master, as_version=4).cells:
        if cell.cell_type == "raw" and cell.source.lstrip().startswith("# BEGIN QUESTION"):
            config = yaml.safe_load(cell.source.split("\n", 1)[1]) or {}
            if config.get("manual"):
                out.append(str(config["name"]))
    return out


def public_autograder(tests: Path, folder: Path) -> Path:
    """An autograder zip of the public tests in `tests` (otter generate), for a student's own score."""
    from otter.generate import main as otter_generate

    if not sorted(tests.glob("*.py")):
        raise FileNotFoundError(f"no public tests in {tests}: grade the notebook in its student folder")
    zip_path = folder / "public-autograder.zip"
    with contextlib.redirect_stdout(io.StringIO()):
        otter_generate(tests_dir=str(tests), output_path=str(zip_path), no_config=True, no_requirements=True,
                       no_environment=True)
    return zip_path


def grade(submission: Path, built: Path = DIST, public: bool = False) -> Grade:
    """Grade one notebook with Otter (a fresh kernel runs it, then all tests run): with the
    assignment's autograder from `build`, or with `public` the public tests beside the notebook."""
    from otter.api import grade_submission

    start = time.perf_counter()
    try:
        name = assignment_of(submission)
    except (ValueError, OSError, nbformat.reader.NotJSONError) as e:
        return Grade(submission, "?", error=f"cannot read {submission}: {e}")
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        # Otter 7 calls DataFrame.drop(inplace=True), which pandas deprecates: not ours to fix.
        warnings.filterwarnings("ignore", "The inplace keyword in DataFrame.drop")
        if public:
            try:
                zip_path = public_autograder(submission.parent / "tests", Path(tmp))
            except FileNotFoundError as e:
                return Grade(submission, name, error=str(e))
        else:
            zip_path = built / name / "autograder" / f"{name}-autograder.zip"
            if not zip_path.exists():
                return Grade(submission, name, error=f"no autograder at {zip_path}: run `make assignments` "
                                                     "first (or grade with --public against the public tests)")
        path = os.environ.get("PATH", "")
        try:
            results = grade_submission(str(submission), str(zip_path), quiet=True)
        finally:  # Otter prepends its Docker image's conda to PATH, for good: not in this process
            os.environ["PATH"] = path
    label = f"{name}, public tests only" if public else name
    result = Grade(submission, label, manual=manual_questions(MASTERS / f"{name}.ipynb"))
    if results.catastrophic_error:
        result.error = f"Otter could not grade it: {results.catastrophic_error}"
    for q in sorted(results.test_files):
        tf = results.get_result(q)
        result.scores[q] = (float(tf.score), float(tf.possible))
    result.seconds = time.perf_counter() - start
    return result


def submissions(paths: list[Path]) -> list[Path]:
    out = []
    for p in paths:
        if p.is_dir():
            out += sorted(q for q in p.rglob("*.ipynb") if ".ipynb_checkpoints" not in q.parts)
        elif p.exists():
            out.append(p)
        else:
            raise SystemExit(f"{p}: no such file or folder (give submitted .ipynb files or a folder of them)")
    return out


def write_csv(grades: list[Grade], path: Path) -> None:
    questions = sorted({q for g in grades for q in g.scores})
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["submission", "assignment", *questions, "total", "possible", "error"])
        for g in grades:
            score, possible = g.total
            w.writerow([str(g.submission), g.assignment,
                        *[f"{g.scores[q][0]:g}" if q in g.scores else "" for q in questions],
                        f"{score:g}", f"{possible:g}", g.error or ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/assignments.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="otter assign every master into dist/assignments/")
    b.add_argument("names", nargs="*", help="only these assignments (e.g. 01_speedup_metric)")
    b.add_argument("--out", type=Path, default=DIST)
    b.add_argument("--handout", help="GitHub folder URL where the student folders are published (Colab badges)")
    g = sub.add_parser("grade", help="grade submitted notebooks with Otter (no Docker)")
    g.add_argument("paths", nargs="+", type=Path, help="submitted .ipynb files, or folders of them")
    g.add_argument("--built", type=Path, default=DIST, help="where `build` wrote the autograders")
    g.add_argument("--csv", type=Path, help="also write one row per submission to this CSV file")
    g.add_argument("--public", action="store_true",
                   help="grade with the public tests beside each notebook (a student's own check), not the autograder")
    args = parser.parse_args(argv)
    if args.command == "build":
        build(args.out, args.names, args.handout)
        return 0
    grades = []
    for path in submissions(args.paths):
        grades.append(grade(path, args.built, args.public))
        print("\n".join(grades[-1].lines()), flush=True)
    if args.csv:
        write_csv(grades, args.csv)
        print(f"wrote {args.csv} ({len(grades)} submissions)")
    return 1 if any(g.error for g in grades) else 0


if __name__ == "__main__":
    sys.exit(main())
