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
from run_course import course_notebooks, main, run_course  # noqa: E402


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


def test_course_runs_every_notebook_keeps_going_after_a_failure_and_writes_the_page(tmp_path):
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
    assert "numbers mean nothing" in page  # the smoke preset says so
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
