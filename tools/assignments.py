"""The course's graded assignments: built with Otter-Grader, graded in a sandbox (docs/grading.md).

Each assignments/NN_name.ipynb is an Otter master notebook (solutions and hidden tests inside;
its Jupytext source NN_name.py beside it).

    python tools/assignments.py build                  # masters -> dist/assignments/, handout -> dist/handout/
    python tools/assignments.py grade FOLDER --csv dist/grades/grades.csv   # every file under FOLDER
    python tools/assignments.py grade NB.ipynb --public   # a student: the public tests beside NB only
    python tools/assignments.py clean                  # what build wrote, nothing else

`build` runs `otter assign` on each master and writes, per assignment,

    dist/assignments/NN_name/student/      the notebook to hand out, with tests/ (public tests only)
    dist/assignments/NN_name/autograder/   the solutions notebook, tests/ and the autograder zip
                                           (public and hidden tests): keep these to yourself

and dist/handout/, the folder to publish as the handout repository: the student folders and the
package (package/), which the Colab badges and install cells point at, so the course repository
itself (solutions, hidden tests) can stay private. A build replaces only the files an earlier build
wrote (listed in each folder's .built-files); anything else there is kept.

`grade` runs each submission in tools/grading_sandbox.py (a throwaway folder, no network, a time
limit that kills its whole process tree; the tests fed in only after the notebook has run), one per
CPU core at once, and prints per submission

    alice/01_speedup_metric.ipynb (01_speedup_metric)  q1  score: 4 / 4
    ...
    alice/01_speedup_metric.ipynb (01_speedup_metric)  total  score: 10 / 10  (5.1 s to grade)

then a per-question summary. With --csv it appends every grade as it comes in, and writes each
submission's feedback (every failed test's message) beside it in <csv name>-feedback/.
Questions graded by hand (the written answers) are listed as such and are not in the total.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import contextlib
import copy
import csv
import io
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

try:
    import nbformat
except ImportError:  # `clean` runs without the course's environment
    nbformat = None

ROOT = Path(__file__).resolve().parent.parent
MASTERS = ROOT / "assignments"
DIST = ROOT / "dist" / "assignments"
HANDOUT = ROOT / "dist" / "handout"
MANIFEST = ".built-files"  # in each folder `build` writes: the files it wrote, the only ones it replaces or removes
# The package as students install it from the handout (no assignments/, no tests/).
PACKAGE_FILES = ["pyproject.toml", "README.md", "MANIFEST.in", "LICENSE"]
SETUP_TITLE = "# @title Set up growkit, Otter and the public tests (Colab only; elsewhere this cell does nothing)"
OTTER_PIP = "%pip install -q otter-grader"

sys.path.insert(0, str(Path(__file__).resolve().parent))
import grading_sandbox as sandbox  # noqa: E402  (tools/ is not a package)
from colab import BADGE_SVG, COLLAPSED, Release  # noqa: E402


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


def handout_source(handout: str, release: Release) -> str:
    """pip's source for growkit from the handout repository (its package/ folder), not from the
    course repository: that one holds the solutions and hidden tests and can stay private."""
    repo, _, ref = handout.partition("/blob/")
    return f"git+{repo}@{ref.split('/')[0] or release.tag}#subdirectory=package"


def setup_cell(release: Release, public_tests: dict[str, str], source: str | None = None) -> str:
    """The first code cell of a student notebook: on Colab, install growkit[course] (the release
    these assignments belong to; where it cannot, stop "Run all" with one paragraph, as the
    course's install cell does) and write the public tests into ./tests; elsewhere nothing.
    Collapsed to its title line (colab.COLLAPSED)."""
    install = release.install_cell(f"growkit[course] @ {source or release.pip_source}", title=SETUP_TITLE)
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
    setup = nbformat.v4.new_code_cell(setup_cell(release, public, handout_source(handout, release)),
                                      metadata=copy.deepcopy(COLLAPSED))
    cells = [c for c in nb.cells if not (c.cell_type == "code" and c.source.strip() == OTTER_PIP)]
    if len(cells) != len(nb.cells) - 1:
        raise RuntimeError(f"{notebook}: expected one `{OTTER_PIP}` cell from otter assign (runs_on: colab)")
    nb.cells = [badge, setup, *cells]
    nbformat.write(nb, notebook)


def read_manifest(folder: Path) -> list[str]:
    path = folder / MANIFEST
    return path.read_text().splitlines() if path.exists() else []


def place(files: dict[str, Path], dest: Path) -> list[str]:
    """Copy `files` ({relative path: source}) into `dest`, replacing only what a previous build
    wrote there (its manifest); anything else in `dest` (a collected submission, notes) is kept.
    Returns the paths kept that this build did not write."""
    old = set(read_manifest(dest))
    for rel in sorted(old - set(files)):  # written by the last build, not by this one
        (dest / rel).unlink(missing_ok=True)
    for rel, source in files.items():
        target = dest / rel
        if target.exists() and rel not in old:
            raise SystemExit(f"{target} exists and was not written by `build`: move it away (nothing of "
                             "yours is overwritten), then build again")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    (dest / MANIFEST).write_text("\n".join(sorted(files)) + "\n")
    return sorted(str(p.relative_to(dest)) for p in dest.rglob("*")
                  if p.is_file() and str(p.relative_to(dest)) not in files and p.name != MANIFEST)


def build_one(master: Path, out: Path, release: Release, handout: str) -> Path:
    """otter assign `master` into out/<name>/ (through a scratch folder; see `place`)."""
    from otter.assign import main as otter_assign

    name = master.stem
    dest = out / name
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp) / name
        # Otter prints a banner per notebook; the summary below says what was built.
        with contextlib.redirect_stdout(io.StringIO()):
            otter_assign(str(master), str(scratch), no_pdfs=True, no_run_tests=True)
        student, autograder = scratch / "student", scratch / "autograder"
        zips = sorted(autograder.glob(f"{name}-autograder_*.zip"))
        if len(zips) != 1:
            raise RuntimeError(f"otter assign made {len(zips)} autograder zips in {autograder}, expected one")
        zips[0].rename(autograder / f"{name}-autograder.zip")  # a stable name for `grade`
        for folder in (student, autograder):
            add_entry_cells(folder / f"{name}.ipynb", release, handout, student / "tests")
        kept = place({str(p.relative_to(scratch)): p for p in scratch.rglob("*") if p.is_file()}, dest)
    if kept:
        print(f"kept in {dest} (not written by build): {', '.join(kept[:5])}")
    return dest


def write_handout(built: Path, names: list[str], folder: Path) -> Path:
    """The folder to publish as the handout repository (what the badges and install cells point
    at): each student folder, and the package in package/; no master, solution or hidden test."""
    files = {}
    for name in names:
        student = built / name / "student"
        files |= {f"{name}/{p.relative_to(student)}": p for p in student.rglob("*") if p.is_file()}
    package = ROOT / "growkit"
    files |= {f"package/{p.relative_to(ROOT)}": p for p in package.rglob("*")
              if p.is_file() and "__pycache__" not in p.parts}
    files |= {f"package/{n}": ROOT / n for n in PACKAGE_FILES if (ROOT / n).exists()}
    kept = place(files, folder)
    if kept:
        print(f"kept in {folder} (not written by build): {', '.join(kept[:5])}")
    return folder


def build(out: Path = DIST, names: list[str] | None = None, handout: str | None = None,
          handout_dir: Path | None = HANDOUT) -> list[Path]:
    release = Release.from_pyproject()
    handout = handout or default_handout(release)
    built = []
    for master in masters(names):
        start = time.perf_counter()
        built.append(build_one(master, out, release, handout))
        print(f"built {built[-1]} ({time.perf_counter() - start:.1f} s): keep autograder/ to yourself")
    if handout_dir is not None:
        folder = write_handout(out, [m.stem for m in masters(names)], handout_dir)
        print(f"wrote {folder}: publish it as {handout.partition('/blob/')[0]} (student notebooks, public tests, "
              "the package; no solutions, no hidden tests)")
    return built


def clean(folders: list[Path]) -> None:
    """Remove what `build` wrote (its manifests' files) and nothing else: never grades, never a
    collected submission. Says what it removes and what it keeps."""
    for manifest in sorted(p for f in folders if f.exists() for p in f.rglob(MANIFEST)):
        folder = manifest.parent
        files = read_manifest(folder)
        for rel in files:
            (folder / rel).unlink(missing_ok=True)
        manifest.unlink()
        for d in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            if not any(d.iterdir()):
                d.rmdir()
        if folder.exists() and not any(folder.iterdir()):
            folder.rmdir()
        left = [str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
        print(f"removed {len(files)} built file(s) from {folder}" + (f"; kept {', '.join(left[:5])}" if left else ""))


# ---- grade ---------------------------------------------------------------------------------

@dataclass
class Grade:
    submission: Path
    assignment: str
    scores: dict[str, tuple[float, float]] = field(default_factory=dict)  # question -> (score, possible)
    manual: list[str] = field(default_factory=list)  # questions graded by hand
    error: str | None = None
    seconds: float = 0.0
    outcome: sandbox.Outcome | None = None

    @property
    def total(self) -> tuple[float, float]:
        return (sum(s for s, _ in self.scores.values()), sum(p for _, p in self.scores.values()))

    def lines(self) -> list[str]:
        tag = f"{self.submission} ({self.assignment})"  # the path as given: student folders tell them apart
        out = [f"{tag}  sandbox refused: {v}" for v in (self.outcome.violations if self.outcome else [])]
        if self.error:
            return [*out, f"{tag}: not graded: {self.error}"]
        out += [f"{tag}  {q}  score: {s:g} / {p:g}" for q, (s, p) in self.scores.items()]
        out += [f"{tag}  {q}  graded by hand" for q in self.manual]
        score, possible = self.total
        return out + [f"{tag}  total  score: {score:g} / {possible:g}  ({self.seconds:.1f} s to grade)"]

    def feedback(self) -> str:
        """What to return to the student: every question's score and every failed test's message
        (hidden tests' messages name the bug, not the answer; their code is not shown)."""
        out = [f"{self.assignment}: {self.submission.name}"]
        if self.error:
            out.append(f"not graded: {self.error}")
        o = self.outcome
        for q, (score, possible) in self.scores.items():
            out.append(f"\n{q}: {score:g} / {possible:g}")
            for t in (o.tests if o else []):
                if t.question == q and not t.passed:
                    out.append(f"  - {'hidden' if t.hidden else 'public'} test {t.test}: {t.message}")
        out += [f"\n{q}: graded by hand" for q in self.manual]
        if o and o.cell_errors:
            out += ["\nerrors while your notebook ran:", *(f"  - {e}" for e in o.cell_errors)]
        if o and o.violations:
            out += ["\nthe grading sandbox refused:", *(f"  - {v}" for v in o.violations)]
        score, possible = self.total
        return "\n".join([*out, f"\ntotal: {score:g} / {possible:g}", ""])


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


def hidden_paths(built: Path, paths: list[Path]) -> list[Path]:
    """What a submission's code must not see: the masters, the autograders, the repository's tests,
    and the folders the submissions were collected in (the other students' work)."""
    folders = [MASTERS, ROOT / "tests", ROOT / ".git", built, *(p if p.is_dir() else p.parent for p in paths)]
    return [p.resolve() for p in folders if p.exists()]


def grade(submission: Path, built: Path = DIST, public: bool = False, hide: list[Path] | None = None,
          limits: sandbox.Limits | None = None) -> Grade:
    """Grade one notebook in the sandbox (tools/grading_sandbox.py): its code cells run in a
    throwaway folder, then the assignment's tests (public and hidden, from `build`; with `public`
    the public tests beside the notebook) are fed in."""
    start = time.perf_counter()
    try:
        name = assignment_of(submission)
    except (ValueError, OSError, UnicodeDecodeError, KeyError, AttributeError, TypeError,
            nbformat.reader.NotJSONError) as e:
        return Grade(submission, "?", error=f"cannot read {submission}: {e}")
    if name not in {m.stem for m in masters()}:
        return Grade(submission, name, error=f"its metadata names an assignment {name!r} this course does not have")
    tests_dir = submission.parent / "tests" if public else built / name / "autograder" / "tests"
    tests = {p.name: p.read_text() for p in sorted(tests_dir.glob("q*.py"))}
    if not tests:
        return Grade(submission, name, error=f"no tests in {tests_dir}: " + (
            "grade the notebook in its student folder" if public else "run `make assignments` first "
            "(or grade with --public against the public tests)"))
    outcome = sandbox.grade_notebook(submission, tests, name, hide if hide is not None else
                                     hidden_paths(built, [submission]), limits)
    label = f"{name}, public tests only" if public else name
    result = Grade(submission, label, manual=manual_questions(MASTERS / f"{name}.ipynb"), outcome=outcome)
    result.error = outcome.error
    result.scores = outcome.scores() if not outcome.error else {
        p.stem: (0.0, float(points_of(p.read_text()))) for p in sorted(tests_dir.glob("q*.py"))}
    result.seconds = time.perf_counter() - start
    return result


def points_of(test_source: str) -> float:
    found = re.search(r"(?m)^points = ([\d.]+)", test_source)
    return float(found.group(1)) if found else 0.0


def submissions(paths: list[Path]) -> list[Path]:
    """Every file under the folders given (not only notebooks: a stray file is reported, not skipped
    in silence), and the files given."""
    out = []
    for p in paths:
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if q.is_file() and ".ipynb_checkpoints" not in q.parts
                          and not q.name.startswith(".") and "tests" not in q.relative_to(p).parts)
        elif p.exists():
            out.append(p)
        else:
            raise SystemExit(f"{p}: no such file or folder (give submitted .ipynb files or a folder of them)")
    return out


CSV_FIELDS = ["graded_at", "submission", "assignment", "question", "score", "possible", "error"]


class Ledger:
    """Grades as they come in: one CSV row per question (and one per submission, question
    'total'), appended and flushed as each submission finishes, so a crash or a second batch never
    loses a grade; each submission's feedback in its own file beside the CSV."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists() or path.stat().st_size == 0
        if not new:
            with open(path, newline="") as f:
                header = next(csv.reader(f), [])
            if header != CSV_FIELDS:  # another tool's file: never appended to, never overwritten
                self.path = path.with_name(f"{path.stem}-{time.strftime('%Y%m%d-%H%M%S')}{path.suffix}")
                new = True
        self.file = open(self.path, "a", newline="")
        self.writer = csv.writer(self.file)
        if new:
            self.writer.writerow(CSV_FIELDS)
        self.feedback = self.path.with_name(self.path.stem + "-feedback")
        self.lock = threading.Lock()

    def add(self, grade: Grade) -> Path:
        when = time.strftime("%Y-%m-%d %H:%M:%S")
        with self.lock:
            for q, (score, possible) in grade.scores.items():
                self.writer.writerow([when, grade.submission, grade.assignment, q, f"{score:g}", f"{possible:g}", ""])
            score, possible = grade.total
            self.writer.writerow([when, grade.submission, grade.assignment, "total", f"{score:g}", f"{possible:g}",
                                  grade.error or ""])
            self.file.flush()
            os.fsync(self.file.fileno())
            self.feedback.mkdir(exist_ok=True)
            stem = re.sub(r"[^A-Za-z0-9._-]+", "_", str(grade.submission).lstrip("./"))
            path = self.feedback / f"{stem}.txt"
            path.write_text(grade.feedback())
            return path

    def close(self) -> None:
        self.file.close()


def summary(grades: list[Grade]) -> str:
    """Per assignment and question: the mean score and the most common failure messages."""
    lines = []
    for name in sorted({g.assignment for g in grades}):
        mine = [g for g in grades if g.assignment == name]
        lines.append(f"{name}: {len(mine)} submission(s)")
        for q in sorted({q for g in mine for q in g.scores}):
            got = [g.scores[q] for g in mine if q in g.scores]
            mean = sum(s for s, _ in got) / len(got)
            lines.append(f"  {q}: mean {mean:.2f} / {got[0][1]:g}")
            failures = collections.Counter(t.message.split("\n")[0][:160] for g in mine if g.outcome
                                           for t in g.outcome.tests if t.question == q and not t.passed)
            for message, count in failures.most_common(3):
                lines.append(f"    {count} x {message}")
    broken = [g for g in grades if g.error]
    if broken:
        lines.append(f"not graded or stopped: {len(broken)} (see the lines above and their feedback files)")
    return "\n".join(lines)


def progress(done: int, total: int, start: float) -> None:
    width = 30
    filled = width * done // max(total, 1)
    elapsed = time.perf_counter() - start
    left = elapsed / done * (total - done) if done else 0.0
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}  {elapsed:.0f} s, "
                     f"about {left:.0f} s left ")
    sys.stderr.flush()
    if done == total:
        sys.stderr.write("\n")


def grade_all(paths: list[Path], built: Path, public: bool, csv_path: Path | None, workers: int,
              limits: sandbox.Limits | None = None) -> list[Grade]:
    """Every submission, `workers` at a time (each in its own sandboxed process), each line printed
    and each grade written as it finishes."""
    files = submissions(paths)
    hide = hidden_paths(built, paths)
    ledger = Ledger(csv_path) if csv_path else None
    grades: list[Grade] = []
    start = time.perf_counter()
    print(f"grading {len(files)} file(s), {workers} at a time; sandbox: {sandbox.SANDBOX}", flush=True)
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = [pool.submit(grade, f, built, public, hide, limits) for f in files]
            progress(0, len(files), start)
            for future in concurrent.futures.as_completed(futures):
                g = future.result()
                grades.append(g)
                if ledger:
                    ledger.add(g)
                sys.stderr.write("\r" + " " * 70 + "\r")
                print("\n".join(g.lines()), flush=True)
                progress(len(grades), len(files), start)
    finally:
        if ledger:
            ledger.close()
    order = {f: i for i, f in enumerate(files)}
    grades.sort(key=lambda g: order[g.submission])
    if grades:
        print("\n" + summary(grades))
    if ledger:
        print(f"\nappended {len(grades)} submission(s) to {ledger.path}; feedback to return in {ledger.feedback}/")
    return grades


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/assignments.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="otter assign every master into dist/assignments/")
    b.add_argument("names", nargs="*", help="only these assignments (e.g. 01_speedup_metric)")
    b.add_argument("--out", type=Path, default=DIST)
    b.add_argument("--handout", help="GitHub folder URL where the student folders are published (Colab badges)")
    b.add_argument("--handout-dir", type=Path, default=HANDOUT, help="where to write the handout to publish")
    sub.add_parser("clean", help="remove what build wrote (never grades or submissions)")
    g = sub.add_parser("grade", help="grade submitted notebooks with Otter (no Docker)")
    g.add_argument("paths", nargs="+", type=Path, help="submitted .ipynb files, or folders of them")
    g.add_argument("--built", type=Path, default=DIST, help="where `build` wrote the autograders")
    g.add_argument("--csv", type=Path, help="append every grade to this CSV file (feedback files beside it)")
    g.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="submissions graded at once")
    g.add_argument("--public", action="store_true",
                   help="grade with the public tests beside each notebook (a student's own check), not the autograder")
    args = parser.parse_args(argv)
    if args.command == "build":
        build(args.out, args.names, args.handout, args.handout_dir)
        return 0
    if args.command == "clean":
        clean([DIST, HANDOUT])
        return 0
    grades = grade_all(args.paths, args.built, args.public, args.csv, args.workers)
    return 1 if any(g.error for g in grades) else 0


if __name__ == "__main__":
    sys.exit(main())
