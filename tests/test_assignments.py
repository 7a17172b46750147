"""The graded assignments (assignments/, built and graded by tools/assignments.py with Otter-Grader).

What a teacher relies on:
- the student copy holds no solution and no hidden test, and opens on Colab and in JupyterLab;
- the solutions score full marks under Otter's real grader (`otter run`: a fresh kernel executes
  the notebook, then every public and hidden test runs), through the same command teachers use;
- the unmodified student copy scores zero on every autograded question (no test passes vacuously);
- each plausible wrong solution in tests/assignment_wrong/ loses exactly the points it should.

The last two grade in this process instead of a kernel, to stay within the test budget: the
notebook's code cells run in one namespace (a failing cell is skipped, as Otter's grader allows
errors) and then Otter's own test files run against it. `test_in_process_grading_is_otters`
checks on a wrong solution that this gives the same scores as `otter run`.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import shutil
import sys
import types
import zipfile
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("otter", reason="the assignments need Otter-Grader: pip install -e .[course]")
# Otter 7 calls DataFrame.drop(inplace=True), which pandas deprecates: not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.drop")

ROOT = Path(__file__).resolve().parent.parent
MASTERS = sorted((ROOT / "assignments").glob("[0-9][0-9]_*.ipynb"))
NAMES = [p.stem for p in MASTERS]
WRONG = sorted((Path(__file__).parent / "assignment_wrong").glob("*/*.py"))
COURSE = ["01_speedup_metric", "02_depth_growth", "03_width_growth", "04_honest_experiment",
          "05_mixture_layout"]


def load_tool():
    """tools/assignments.py, loaded by path (its name would clash with the assignments/ folder)."""
    spec = importlib.util.spec_from_file_location("assignments_tool", ROOT / "tools" / "assignments.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["assignments_tool"] = module
    spec.loader.exec_module(module)
    return module


tool = load_tool()


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    """Every assignment built once per session, as `make assignments` builds them."""
    out = tmp_path_factory.mktemp("dist")
    tool.build(out)
    return out


def code_cells(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def grade_in_process(nb, tests_dir: Path) -> dict[str, tuple[float, float]]:
    """Otter's test files run against the namespace the notebook's code cells leave behind.
    Otter's own cells (init, check, export) are left out: grading runs every test anyway."""
    from otter.nbmeta_config import NBMetadataConfig
    from otter.test_files import create_test_file

    env: dict = {"__name__": "__main__"}
    for source in code_cells(nb):
        if "import otter" in source or source.lstrip().startswith("grader."):
            continue
        try:
            exec(compile(source, "<cell>", "exec"), env)
        except Exception:  # noqa: S110 - as Otter's grader, which runs with allow_errors
            pass
    scores = {}
    for path in sorted(tests_dir.glob("*.py")):
        test_file = create_test_file(str(path), NBMetadataConfig())
        test_file.run(env)
        scores[test_file.name] = (float(test_file.score), float(test_file.possible))
    return scores


def with_cell_replaced(nb, wrong: Path):
    """The solutions notebook with the cell a wrong solution names replaced by it."""
    text = wrong.read_text()
    first_line = re.search(r"(?m)^# replaces: (.+)$", text).group(1).strip()
    nb = nbformat.from_dict(nb)  # a copy
    hits = [c for c in nb.cells if c.cell_type == "code" and c.source.lstrip().startswith(first_line)]
    assert len(hits) == 1, f"{wrong.name}: {len(hits)} cells start with {first_line!r}, expected one"
    hits[0].source = text
    return nb


def expected_scores(wrong: Path) -> dict[str, tuple[float, float]]:
    line = re.search(r"(?m)^# expect: (.+)$", wrong.read_text()).group(1)
    return {q: (float(s), float(p)) for q, s, p in re.findall(r"(\w+)=([\d.]+)/([\d.]+)", line)}


# ---- the masters ------------------------------------------------------------------------------

def test_the_five_assignments_are_there():
    assert NAMES == COURSE
    assert {p.parent.name for p in WRONG} == set(COURSE), "each assignment needs wrong solutions in tests/"


@pytest.mark.parametrize("name", NAMES)
def test_master_is_a_synced_pair_without_outputs(name):
    import jupytext

    ipynb = ROOT / "assignments" / f"{name}.ipynb"
    paired = jupytext.read(ROOT / "assignments" / f"{name}.py")
    nb = nbformat.read(ipynb, as_version=4)
    assert [(c.cell_type, c.source) for c in nb.cells] == [(c.cell_type, c.source) for c in paired.cells], (
        f"assignments/{name}.py and .ipynb differ: run `jupytext --sync assignments/{name}.py`")
    assert all(not c.get("outputs") and not c.get("execution_count") for c in nb.cells if c.cell_type == "code"), (
        f"assignments/{name}.ipynb carries outputs: clear them (solutions would show in them)")


# ---- what students get ------------------------------------------------------------------------

def solution_lines(master: Path) -> list[str]:
    """Lines the master marks as solution: inside solution blocks (whole markdown answers, and in
    code the lines between BEGIN/END SOLUTION markers or ending in # SOLUTION)."""
    out, inside, prompts = [], False, ""
    for cell in nbformat.read(master, as_version=4).cells:
        text = cell.source.strip()
        if cell.cell_type == "raw":
            inside = {"# BEGIN SOLUTION": True, "# END SOLUTION": False}.get(text, inside)
            continue
        if not inside:
            prompts += text if cell.cell_type == "markdown" else ""
            continue
        if cell.cell_type == "markdown":
            out += text.splitlines()
            continue
        marked = False
        for line in cell.source.splitlines():
            if line.strip() == "# BEGIN SOLUTION":
                marked = True
            elif line.strip() == "# END SOLUTION":
                marked = False
            elif marked or line.rstrip().endswith("# SOLUTION"):
                out.append(line.replace("# SOLUTION", ""))
    # A line the question itself shows (a formula in its text) is no leak.
    return [line.strip() for line in out if len(line.strip()) > 15 and line.strip() not in prompts]


def hidden_test_names(tests_dir: Path) -> list[str]:
    text = "\n".join(p.read_text() for p in tests_dir.glob("*.py"))
    return re.findall(r"@test_case\([^)]*hidden=True[^)]*\)\s*def (\w+)", text)


@pytest.mark.parametrize("name", NAMES)
def test_student_copy_holds_no_solution_or_hidden_test(built, name):
    student = built / name / "student"
    text = "\n".join(p.read_text() for p in student.rglob("*") if p.is_file())
    lines = solution_lines(ROOT / "assignments" / f"{name}.ipynb")
    assert lines, f"found no solution lines in the {name} master: the check below would be vacuous"
    leaked = [line for line in lines if line in text]
    assert not leaked, f"the student copy of {name} shows solution lines: {leaked[:3]}"
    hidden = hidden_test_names(built / name / "autograder" / "tests")
    assert hidden, f"{name} has no hidden tests"
    with zipfile.ZipFile(built / name / "autograder" / f"{name}-autograder.zip") as z:
        zipped = "\n".join(z.read(n).decode() for n in z.namelist() if n.startswith("tests/"))
    assert all(h in zipped for h in hidden), "the autograder zip must carry every hidden test"
    assert not [h for h in hidden if h in text], f"the student copy of {name} carries hidden tests"
    assert sorted(p.name for p in (student / "tests").glob("*.py")), "the student copy needs its public tests"


@pytest.mark.parametrize("name", NAMES)
def test_student_notebook_opens_on_colab_and_in_jupyterlab(built, name, tmp_path, monkeypatch):
    student = built / name / "student"
    nb = nbformat.read(student / f"{name}.ipynb", as_version=4)
    badge, setup = nb.cells[0], nb.cells[1]
    assert badge.cell_type == "markdown" and "colab-badge.svg" in badge.source
    assert f"/{name}/{name}.ipynb)" in badge.source, "the badge opens this notebook in its handout folder"
    assert setup.cell_type == "code" and 'GROWKIT = "growkit[course] @ git+https://github.com/' in setup.source
    assert tool.OTTER_PIP not in "\n".join(code_cells(nb)), "Otter's own pip cell would skip growkit"
    # Outside Colab the setup cell does nothing; on Colab it writes exactly the public tests.
    monkeypatch.chdir(tmp_path)
    env: dict = {}
    exec(setup.source, env)
    public = {p.name: p.read_text() for p in (student / "tests").glob("*.py")}
    assert env["PUBLIC_TESTS"] == public and not (tmp_path / "tests").exists()
    # As on Colab (growkit already installed here, so nothing is pip-installed): the tests appear.
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    exec(setup.source, {})
    assert {p.name: p.read_text() for p in (tmp_path / "tests").glob("*.py")} == public
    # JupyterLab: Otter's init cell finds the tests beside the notebook.
    assert any(c.strip().endswith("grader = otter.Notebook()") for c in code_cells(nb))


# ---- grading ----------------------------------------------------------------------------------

def test_grade_command_gives_the_solutions_full_marks(built, tmp_path, capsys):
    """`make grade` on a folder of submissions (here: the five solutions notebooks) with Otter's
    real grader: score lines per question and in total, and one CSV."""
    folder = tmp_path / "submissions"
    folder.mkdir()
    for name in NAMES:
        shutil.copy(built / name / "autograder" / f"{name}.ipynb", folder / f"{name}.ipynb")
    out_csv = tmp_path / "grades.csv"
    assert tool.main(["grade", str(folder), "--built", str(built), "--csv", str(out_csv)]) == 0
    printed = capsys.readouterr().out
    for name in NAMES:
        totals = re.findall(rf"\({name}\)  total  score: (\S+) / (\S+)", printed)
        assert len(totals) == 1 and totals[0][0] == totals[0][1] and float(totals[0][1]) > 0, printed
        questions = re.findall(rf"\({name}\)  (q\d+)  score: (\S+) / (\S+)", printed)
        assert questions and all(s == p for _, s, p in questions), printed
    assert "(04_honest_experiment)  q3  graded by hand" in printed
    rows = list(csv.DictReader(out_csv.open()))
    assert [Path(r["submission"]).stem for r in rows] == NAMES
    assert all(r["total"] == r["possible"] and not r["error"] for r in rows)


@pytest.mark.parametrize("name", NAMES)
def test_unmodified_student_copy_scores_zero(built, name):
    student = built / name / "student"
    scores = grade_in_process(nbformat.read(student / f"{name}.ipynb", as_version=4),
                              built / name / "autograder" / "tests")
    assert scores and all(possible > 0 for _, possible in scores.values())
    passed = {q: s for q, (s, _) in scores.items() if s != 0}
    assert not passed, f"{name}: the unanswered notebook scores points on {passed}: some test passes vacuously"


@pytest.mark.parametrize("wrong", WRONG, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_wrong_solution_loses_exactly_its_points(built, wrong):
    name = wrong.parent.name
    solutions = nbformat.read(built / name / "autograder" / f"{name}.ipynb", as_version=4)
    scores = grade_in_process(with_cell_replaced(solutions, wrong), built / name / "autograder" / "tests")
    assert scores == expected_scores(wrong), f"{wrong.name}: scored {scores}"


def test_in_process_grading_is_otters(built, tmp_path, monkeypatch):
    """The in-process grading above gives what `otter run` gives, on a wrong solution."""
    from otter.api import grade_submission

    monkeypatch.setenv("PATH", os.environ["PATH"])  # Otter prepends its image's conda to PATH for good

    name = "01_speedup_metric"
    wrong = WRONG[[p.parent.name for p in WRONG].index(name)]
    solutions = nbformat.read(built / name / "autograder" / f"{name}.ipynb", as_version=4)
    submission = tmp_path / f"{name}.ipynb"
    nbformat.write(with_cell_replaced(solutions, wrong), submission)
    results = grade_submission(str(submission), str(built / name / "autograder" / f"{name}-autograder.zip"),
                               quiet=True)
    by_otter = {q: (float(results.get_result(q).score), float(results.get_result(q).possible))
                for q in results.test_files}
    assert by_otter == expected_scores(wrong)


def test_a_student_grades_their_own_notebook_on_the_public_tests(built, capsys):
    """`grade --public`: a student's score line from the public tests beside their notebook
    (no autograder needed); the untouched copy scores zero there too."""
    name = "05_mixture_layout"
    notebook = built / name / "student" / f"{name}.ipynb"
    assert tool.main(["grade", "--public", str(notebook), "--built", str(built / "nowhere")]) == 0
    printed = capsys.readouterr().out
    public = len(list((built / name / "student" / "tests").glob("*.py")))
    assert f"({name}, public tests only)  total  score: 0 / {public}" in printed, printed
