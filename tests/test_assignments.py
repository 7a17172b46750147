"""The graded assignments (assignments/, built and graded by tools/assignments.py with Otter-Grader).

What a teacher relies on:
- the student copy holds no solution and no hidden test, and opens on Colab and in JupyterLab;
- the solutions score full marks under Otter's real grader (`otter run`: a fresh kernel executes
  the notebook, then every public and hidden test runs), through the same command teachers use;
- the unmodified student copy scores zero on every autograded question (no test passes vacuously);
- each plausible wrong solution in tests/assignment_wrong/ loses exactly the points it should,
  and each correct alternative in tests/assignment_correct/ gets full marks;
- hostile submissions (tests/assignment_hostile/) get zero and a report line, the teacher's files
  are untouched, nothing is left running, and the rest of the class grades normally.

Wrong and correct solutions grade in this process (grading_sandbox.grade_in_process: the same
cell runner, test runner and growkit off-switch as the sandbox, without its process), to stay
within the test budget. `test_in_process_grading_is_otters` checks on a wrong solution that the
test files still give the same scores under `otter run`.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import shutil
import subprocess
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
CORRECT = sorted((Path(__file__).parent / "assignment_correct").glob("*/*.py"))
HOSTILE = sorted((Path(__file__).parent / "assignment_hostile").glob("*.py"))
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
sandbox = tool.sandbox


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    """Every assignment built once per session, as `make assignments` builds them."""
    out = tmp_path_factory.mktemp("dist")
    tool.build(out, handout_dir=out / "handout")
    return out


def code_cells(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def grade_in_process(nb, tests_dir: Path, name: str) -> dict[str, tuple[float, float]]:
    tests = {p.name: p.read_text() for p in sorted(tests_dir.glob("q*.py"))}
    return sandbox.grade_in_process(nb, tests, name).scores()


def feedback_in_process(nb, tests_dir: Path, name: str) -> list[str]:
    tests = {p.name: p.read_text() for p in sorted(tests_dir.glob("q*.py"))}
    return [f"{t.test}: {t.message}" for t in sandbox.grade_in_process(nb, tests, name).tests if not t.passed]


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
    # The handout (what is published for Colab) holds the same student folder and the package only.
    handout = built / "handout"
    # (package/ is growkit itself, its own operators included: they are off while grading.)
    published = "\n".join(p.read_text(errors="replace") for p in handout.rglob("*")
                          if p.is_file() and "package" not in p.relative_to(handout).parts)
    assert (handout / name / f"{name}.ipynb").exists() and (handout / "package" / "growkit" / "gpt.py").exists()
    assert not [line for line in lines if line in published] and not [h for h in hidden if h in published]
    assert not (handout / "package" / "assignments").exists() and not (handout / "package" / "tests").exists()


@pytest.mark.parametrize("name", NAMES)
def test_student_notebook_opens_on_colab_and_in_jupyterlab(built, name, tmp_path, monkeypatch):
    student = built / name / "student"
    nb = nbformat.read(student / f"{name}.ipynb", as_version=4)
    badge, setup = nb.cells[0], nb.cells[1]
    assert badge.cell_type == "markdown" and "colab-badge.svg" in badge.source
    assert f"/{name}/{name}.ipynb)" in badge.source, "the badge opens this notebook in its handout folder"
    assert setup.cell_type == "code" and 'GROWKIT = "growkit[course] @ git+https://github.com/' in setup.source
    assert "-assignments@main#subdirectory=package" in setup.source, "growkit installs from the handout"
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
    """`make grade` on a folder of submissions (here: the five solutions notebooks and a stray
    file), sandboxed and in parallel: score lines per question and in total, a stray file reported
    not fatal, grades appended to the CSV (a second batch keeps the first), feedback files, a summary."""
    folder = tmp_path / "submissions"
    folder.mkdir()
    for name in NAMES:
        shutil.copy(built / name / "autograder" / f"{name}.ipynb", folder / f"{name}.ipynb")
    (folder / "notes.txt").write_text("not a notebook")
    out_csv = tmp_path / "grades" / "grades.csv"
    assert tool.main(["grade", str(folder), "--built", str(built), "--csv", str(out_csv), "--workers", "2"]) == 1
    printed = capsys.readouterr().out
    for name in NAMES:
        totals = re.findall(rf"\({name}\)  total  score: (\S+) / (\S+)", printed)
        assert len(totals) == 1 and totals[0][0] == totals[0][1] and float(totals[0][1]) > 0, printed
        questions = re.findall(rf"\({name}\)  (q\d+)  score: (\S+) / (\S+)", printed)
        assert questions and all(s == p for _, s, p in questions), printed
    assert "(04_honest_experiment)  q3  graded by hand" in printed
    assert "notes.txt (?): not graded: cannot read" in printed, printed
    assert re.search(r"02_depth_growth: 1 submission\(s\)\n  q1: mean 5\.00 / 5", printed), printed
    rows = list(csv.DictReader(out_csv.open()))
    totals = {Path(r["submission"]).name: r for r in rows if r["question"] == "total"}
    assert set(totals) == {f"{n}.ipynb" for n in NAMES} | {"notes.txt"}
    assert all(r["score"] == r["possible"] and not r["error"] for n, r in totals.items() if n != "notes.txt")
    feedback = out_csv.parent / "grades-feedback"
    assert len(list(feedback.glob("*.txt"))) == 6
    # A second batch appends: the first batch's rows are still there.
    tool.main(["grade", str(folder / f"{NAMES[0]}.ipynb"), "--built", str(built), "--csv", str(out_csv)])
    again = list(csv.DictReader(out_csv.open()))
    assert again[:len(rows)] == rows and len(again) > len(rows)


@pytest.mark.parametrize("name", NAMES)
def test_unmodified_student_copy_scores_zero(built, name):
    student = built / name / "student"
    scores = grade_in_process(nbformat.read(student / f"{name}.ipynb", as_version=4),
                              built / name / "autograder" / "tests", name)
    assert scores and all(possible > 0 for _, possible in scores.values())
    passed = {q: s for q, (s, _) in scores.items() if s != 0}
    assert not passed, f"{name}: the unanswered notebook scores points on {passed}: some test passes vacuously"


@pytest.mark.parametrize("wrong", WRONG, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_wrong_solution_loses_exactly_its_points(built, wrong):
    name = wrong.parent.name
    solutions = nbformat.read(built / name / "autograder" / f"{name}.ipynb", as_version=4)
    nb = with_cell_replaced(solutions, wrong)
    scores = grade_in_process(nb, built / name / "autograder" / "tests", name)
    assert scores == expected_scores(wrong), f"{wrong.name}: scored {scores}"
    # The feedback names the bug but does not hand out the answer (no solution line in it).
    said = "\n".join(feedback_in_process(nb, built / name / "autograder" / "tests", name))
    leaked = [line for line in solution_lines(ROOT / "assignments" / f"{name}.ipynb") if line in said]
    assert said and not leaked, f"{wrong.name}: feedback {said!r} gives away {leaked}"


@pytest.mark.parametrize("correct", CORRECT, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_correct_alternative_gets_full_marks(built, correct):
    name = correct.parent.name
    solutions = nbformat.read(built / name / "autograder" / f"{name}.ipynb", as_version=4)
    nb = with_cell_replaced(solutions, correct)
    scores = grade_in_process(nb, built / name / "autograder" / "tests", name)
    lost = {q: sp for q, sp in scores.items() if sp[0] != sp[1]}
    assert scores and not lost, (f"{correct.name} is right but lost points: {lost}: "
                                 f"{feedback_in_process(nb, built / name / 'autograder' / 'tests', name)}")


def test_in_process_grading_is_otters(built, tmp_path, monkeypatch):
    """The in-process grading above gives what `otter run` gives, on a wrong solution."""
    from otter.api import grade_submission

    monkeypatch.setenv("PATH", os.environ["PATH"])  # Otter prepends its image's conda to PATH for good

    name = "01_speedup_metric"
    wrong = next(p for p in WRONG if p.parent.name == name and p.stem == "linear_interpolation")
    solutions = nbformat.read(built / name / "autograder" / f"{name}.ipynb", as_version=4)
    submission = tmp_path / f"{name}.ipynb"
    nbformat.write(with_cell_replaced(solutions, wrong), submission)
    results = grade_submission(str(submission), str(built / name / "autograder" / f"{name}-autograder.zip"),
                               quiet=True)
    by_otter = {q: (float(results.get_result(q).score), float(results.get_result(q).possible))
                for q in results.test_files}
    assert by_otter == expected_scores(wrong)


def test_hostile_submissions_get_zero_and_the_class_grades_normally(built, tmp_path, capsys):
    """Hostile notebooks beside an honest one, sandboxed: zero and a report line each, the
    teacher's file still there, nothing copied out, nothing left running, the honest one full."""
    name = "01_speedup_metric"
    teacher = tmp_path / "teacher"
    teacher.mkdir()
    sentinel = teacher / "keep-me.txt"
    sentinel.write_text("the teacher's")
    folder = tmp_path / "class"
    folder.mkdir()
    solutions = nbformat.read(built / name / "autograder" / f"{name}.ipynb", as_version=4)
    shutil.copy(built / name / "autograder" / f"{name}.ipynb", folder / "honest.ipynb")
    for hostile in HOSTILE:
        nb = nbformat.from_dict(solutions)
        nb.cells.append(nbformat.v4.new_code_cell(f"SENTINEL = {str(sentinel)!r}\n" + hostile.read_text()))
        nbformat.write(nb, folder / f"{hostile.stem}.ipynb")
    limits = sandbox.Limits(submission_s=20, cell_s=4, test_s=10)
    grades = {g.submission.stem: g for g in tool.grade_all([folder], built, False, tmp_path / "g.csv", 2, limits)}
    printed = capsys.readouterr().out
    assert grades["honest"].total == (10.0, 10.0) and not grades["honest"].error, printed
    for hostile in HOSTILE:
        g = grades[hostile.stem]
        if hostile.stem == "endless_loop":  # stopped by the cell limit, then by the submission limit
            assert g.error and "time limit" in g.error, printed
        else:
            assert g.outcome.violations, f"{hostile.stem}: nothing reported\n{printed}"
            assert f"{hostile.stem}.ipynb (01_speedup_metric)  sandbox refused:" in printed
        assert g.total[0] == 0, f"{hostile.stem} scored {g.total}\n{printed}"
    assert sentinel.read_text() == "the teacher's" and sorted(p.name for p in teacher.iterdir()) == ["keep-me.txt"]
    assert (ROOT / "assignments" / f"{name}.py").read_text().count("def test_q1_simple") == 1
    left = subprocess.run(["pgrep", "-f", "growkit-grade-|sleep 600"], capture_output=True, text=True).stdout
    assert not left.strip(), f"processes left running after grading: {left}"


def test_build_keeps_what_it_did_not_write_and_clean_removes_only_its_files(tmp_path, capsys, monkeypatch):
    name = "05_mixture_layout"
    out = tmp_path / "dist"
    tool.build(out, [name], handout_dir=tmp_path / "handout")
    collected = out / name / "student" / "alice.ipynb"  # a submission a teacher collected there
    collected.write_text("{}")
    grades = out / "grades.csv"
    grades.write_text("graded_at\n")
    tool.build(out, [name], handout_dir=tmp_path / "handout")
    assert "kept in" in capsys.readouterr().out and collected.read_text() == "{}"
    tool.clean([out, tmp_path / "handout"])
    printed = capsys.readouterr().out
    assert collected.exists() and grades.exists() and "removed" in printed and "kept student/alice.ipynb" in printed
    assert not (out / name / "autograder").exists() and not (tmp_path / "handout").exists()


def test_a_student_grades_their_own_notebook_on_the_public_tests(built, capsys):
    """`grade --public`: a student's score line from the public tests beside their notebook
    (no autograder needed); the untouched copy scores zero there too."""
    name = "05_mixture_layout"
    notebook = built / name / "student" / f"{name}.ipynb"
    assert tool.main(["grade", "--public", str(notebook), "--built", str(built / "nowhere")]) == 0
    printed = capsys.readouterr().out
    public = len(list((built / name / "student" / "tests").glob("*.py")))
    assert f"({name}, public tests only)  total  score: 0 / {public}" in printed, printed
