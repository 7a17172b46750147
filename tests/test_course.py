"""The headless course runner behind `make demo` (tools/run_course.py), on tiny notebooks
of its own: one that draws a figure and saves numbers, one that fails half-way."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from run_course import captions_of, check_preset, course_notebooks, main, page, rows_table, run_course  # noqa: E402


def make_notebook(path, body: str) -> None:
    params = new_code_cell('PRESET = "cpu"\nPROGRESS = True\nRUNS_DIR = None\nRESULTS_DIR = "."')
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[new_markdown_cell(f"# {path.stem} title"), params, new_code_cell(body)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


GOOD = '''import json
import matplotlib.pyplot as plt  # the kernel's inline backend shows it as a PNG output
fig, ax = plt.subplots(); ax.plot([1, 2])
rows = [{"name": "stack", "val_loss": 1.5, "speedup_flops": 0.25, "speedup_tokens": 0.1,
         "tokens_per_param": 80, "small": "1L alone", "small_val_loss": 1.7, "beats_small": True}]
json.dump({"preset_seen": PRESET, "runs_dir": RUNS_DIR, "rows": rows,
           "width": {"text": "width loses to depth"}}, open(f"{RESULTS_DIR}/results_00.json", "w"))'''


def test_course_runs_every_notebook_keeps_going_after_a_failure_and_writes_the_page(tmp_path, capfd):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    make_notebook(folder / "00_good.ipynb", GOOD)
    make_notebook(folder / "01_broken.ipynb", 'print("half-way")\nraise RuntimeError("boom at step 3")')
    make_notebook(folder / "02_after.ipynb", 'print("still ran")')
    out = tmp_path / "out"

    executed = run_course(out, preset="smoke", folder=folder)

    assert [e.status for e in executed] == ["ok", "failed", "ok"]  # the failure stopped nothing
    assert "boom at step 3" in executed[1].error
    results = json.loads((out / "results_00.json").read_text())
    assert results["preset_seen"] == "smoke" and results["runs_dir"] == str(out / "runs")  # parameters reached it
    assert executed[0].figures and (out / executed[0].figures[0]).stat().st_size > 1000
    page = (out / "index.html").read_text()
    assert "stack" in page and "+25%" in page and "width loses to depth" in page  # table and verdict
    assert "boom at step 3" in page and "failed" in page  # the failure is on the page
    assert "Smoke run: every number on this page is meaningless" in page  # the smoke preset says so
    assert "[smoke run: meaningless numbers] width loses to depth" in page  # verdicts too
    # Figures full width, each a link to itself (click to enlarge) with a caption.
    assert f"<a href='{executed[0].figures[0]}' target='_blank'" in page and "<figcaption>" in page
    # No link to numbers a failed notebook never wrote.
    assert "results_01.json" not in page and not (out / "results_01.json").exists()
    # The kernels stayed quiet: no TCP-encryption warning, no KeyboardInterrupt line.
    err = capfd.readouterr().err
    assert "without encryption" not in err and "KeyboardInterrupt" not in err, err[-2000:]
    assert (out / "01_broken.ipynb").exists() and (out / "00_good.html").exists()  # partial output kept
    status = json.loads((out / "course.json").read_text())
    assert status["preset"] == "smoke" and [n["status"] for n in status["notebooks"]] == ["ok", "failed", "ok"]


def test_only_names_no_notebook_says_which_there_are(tmp_path):
    make_notebook(tmp_path / "00_good.ipynb", "1")
    with pytest.raises(ValueError, match="00_good"):
        course_notebooks(tmp_path, ["07"])
    with pytest.raises(FileNotFoundError, match="clone"):
        course_notebooks(tmp_path / "missing")


def test_the_script_runs_the_real_course_folder_and_smoke_is_a_preset(tmp_path, monkeypatch):
    import run_course

    seen = {}

    def fake(out, preset, only):
        seen.update(out=out, preset=preset, only=only)
        return []

    monkeypatch.setattr(run_course, "run_course", fake)
    assert main(["--smoke", "--out", str(tmp_path), "--only", "00"]) == 0
    assert seen == {"out": str(tmp_path), "preset": "smoke", "only": ["00"]}
    assert {p.stem[:2] for p in course_notebooks()} >= {"00", "05"}  # the repository's notebooks


def test_a_preset_is_checked_before_any_notebook_starts(tmp_path, monkeypatch, capsys):
    import run_course

    assert check_preset("smoke") == "smoke" and check_preset("auto") == "auto"
    with pytest.raises(ValueError, match="lower case"):
        check_preset("CPU")
    monkeypatch.setattr(run_course, "execute", lambda *a, **k: pytest.fail("a notebook started"))
    with pytest.raises(SystemExit) as exit_:
        main(["--preset", "CPU", "--out", str(tmp_path / "out")])
    assert exit_.value.code == 2 and "unknown preset 'CPU'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="unknown preset"):
        run_course.run_course(tmp_path / "out", preset="CPU")


def test_every_data_set_is_checked_before_any_notebook_starts(tmp_path, monkeypatch, capsys):
    import run_course

    from growkit import images
    from growkit.data import DatasetUnavailable

    # The real course at the cpu preset: notebook 05 needs fashion-mnist, the others the corpus.
    needed = run_course.data_needed(course_notebooks(), "cpu")
    assert {"text corpus 'kjv'", "image data set 'fashion-mnist'"} <= set(needed)
    assert "image data set 'digits'" in run_course.data_needed(course_notebooks(only=["05"]), "smoke")

    def missing():  # as the loader says it on a machine without it
        raise DatasetUnavailable("'fashion-mnist' is not on this machine: apt-get install dataset-fashion-mnist")

    monkeypatch.setitem(images.IMAGE_DATASETS, "fashion-mnist", missing)
    monkeypatch.setattr(images, "_image_cache", {})
    monkeypatch.setattr(run_course, "execute", lambda *a, **k: pytest.fail("a notebook started"))
    assert main(["--preset", "cpu", "--only", "00", "05", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "image data set 'fashion-mnist'" in err and "apt-get install dataset-fashion-mnist" in err
    assert "no notebook has run" in err and not (tmp_path / "out").exists()


def test_one_seed_has_no_plus_minus_column_and_more_seeds_do():
    row = {"run": "scratch", "test_acc_mean": 0.9, "test_acc_std": 0.0, "flops": 1.0, "budget_flops": 1.0,
           "samples_per_param": 2.0, "seeds": [0]}
    assert "±" not in rows_table({"rows": [row]}) and rows_table({"rows": [row]}).count("<th>") == 4
    three = {**row, "seeds": [0, 1, 2], "test_acc_std": 0.004}
    assert "±" in rows_table({"rows": [three]}) and "0.40" in rows_table({"rows": [three]})


def test_every_figure_gets_a_caption_from_what_drew_it():
    source = ('fig = plots.plot_image_runs(first, title=f"validation accuracy against compute, seed {seed}")\n'
              "fig = plots.plot_accuracy_bars(summary)")
    first, second = captions_of(source)
    assert first.startswith("“validation accuracy against compute”") and "widening" in first
    assert second.startswith("Test accuracy")
    assert "overlay" in captions_of("fig = explorer.figure()")[0]


def test_a_failed_notebook_without_output_gets_no_dead_link(tmp_path):
    from run_course import Executed

    html = page([Executed("02_depth", "Depth", "failed", 3.0, [], "RuntimeError: boom")], tmp_path, "cpu")
    assert "href='02_depth.html'" not in html and "results_02.json" not in html
    assert "left no notebook and no numbers" in html and "boom" in html and "SMOKE" not in html


def test_make_lab_works_on_git_ignored_copies_and_keeps_a_students_work(tmp_path):
    import os
    import shutil
    import subprocess

    root = Path(__file__).resolve().parent.parent
    if shutil.which("make") is None:
        pytest.skip("no make on this machine")
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "00_quick_start.ipynb").write_text("a student's saved work")
    # -o: the venv counts as set up (no reinstall); --version: JupyterLab says its version and exits.
    done = subprocess.run(["make", "-s", "-o", ".venv/.installed", "lab", f"LAB={lab}", "LAB_ARGS=--version"],
                          cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (lab / "00_quick_start.ipynb").read_text() == "a student's saved work"  # never overwritten
    assert {p.name for p in (root / "notebooks").glob("[0-9][0-9]_*.ipynb")} <= {p.name for p in lab.iterdir()}
    settings = lab / ".settings/@jupyter-widgets/jupyterlab-manager/plugin.jupyterlab-settings"
    assert json.loads(settings.read_text()) == {"saveState": True}
    if os.geteuid() == 0:
        assert "--allow-root" in done.stdout
    # The default lab folder is git-ignored: nothing saved there shows up in `git status`.
    ignored = subprocess.run(["git", "check-ignore", "-q", "lab/00_quick_start.ipynb"], cwd=root)
    assert ignored.returncode == 0


def test_smoke_verdicts_are_marked_and_give_no_tuning_advice():
    from growkit.course import words

    said = ("The target loses to the small model. It does not deserve its size at this budget, so a speedup "
            "over scratch says nothing about growth: raise tokens_per_param. stack↑×4 reaches scratch's loss.")
    smoke = words(said, "smoke")
    assert smoke.startswith("[smoke run: meaningless numbers]") and "tokens_per_param" not in smoke
    assert "says nothing about growth. stack↑×4 reaches" in smoke
    assert words(said, "cpu") == said  # a real preset keeps its advice
