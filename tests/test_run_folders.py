"""Safe run folders: processes sharing one folder never train a run twice nor collide on
temporary files, seeds run in parallel processes make one summary of every seed, and runs
of several configurations share one cache folder without overwriting each other."""

import json
import os
import subprocess
import sys
from pathlib import Path

from growkit import Record
from growkit.runs import RunCache

ROOT = Path(__file__).resolve().parents[1]

# `python -m growkit compare ...`, printing a line each time a Trainer starts a run (its stem).
CHILD = r"""
import sys
import growkit.study as study
from growkit.__main__ import main

class Counted(study.Trainer):
    def __init__(self, *a, **k):
        print("TRAIN", k["checkpointing"].stem, flush=True)
        super().__init__(*a, **k)

study.Trainer = Counted
sys.exit(main(["compare", "--preset", "smoke", "--no-progress", *sys.argv[1:]]))
"""


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


def finish(p: subprocess.Popen) -> str:
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    return out


def trained(outputs: list[str]) -> list[str]:
    return sorted(line.split()[1] for out in outputs for line in out.splitlines()
                  if line.startswith("TRAIN"))


def test_two_processes_on_one_folder_train_each_run_once(tmp_path):
    out = str(tmp_path / "cmp")
    outputs = [finish(p) for p in [start("--seeds", "0", "--out", out) for _ in range(2)]]
    runs = trained(outputs)
    assert len(runs) == 3 and len(set(runs)) == 3, outputs  # scratch, small alone, grown: once each
    summaries = json.loads((tmp_path / "cmp" / "summary.json").read_text())
    assert summaries["seeds"] == [0]
    leftovers = [p.name for p in (tmp_path / "cmp").rglob("*.tmp")]
    assert leftovers == []


def test_seeds_in_parallel_processes_make_one_summary_of_every_seed(tmp_path):
    out = str(tmp_path / "cmp")
    outputs = [finish(p) for p in [start("--seeds", str(s), "--out", out) for s in (0, 1)]]
    assert len(trained(outputs)) == 6
    summary = json.loads((tmp_path / "cmp" / "summary.json").read_text())
    assert summary["seeds"] == [0, 1] and [p["seed"] for p in summary["per_seed"]] == [0, 1]
    # A later call for one seed trains nothing and still summarises both.
    again = finish(start("--seeds", "1", "--out", out))
    assert trained([again]) == []
    assert json.loads((tmp_path / "cmp" / "summary.json").read_text())["seeds"] == [0, 1]


def test_configurations_share_a_cache_folder_without_overwriting(tmp_path):
    cache = RunCache(tmp_path)
    a = cache.get({"lr": 1}, "a", lambda out, stem: Record(name=stem, history=[{"val_loss": 1.0}]))
    b = cache.get({"lr": 2}, "b", lambda out, stem: Record(name=stem, history=[{"val_loss": 2.0}]))
    assert cache.find({"lr": 1}).history == a.history and cache.find({"lr": 2}).history == b.history
    assert len(list(tmp_path.glob("*.json"))) == 2


def test_a_failed_summary_still_lists_the_runs(tmp_path, monkeypatch):
    import pytest

    import growkit.compare as compare
    from growkit.__main__ import main

    out = tmp_path / "cmp"
    (out / "runs").mkdir(parents=True)
    Record(name="scratch", history=[{"val_loss": 1.5}], meta={"seed": 0, "cache_spec": {}}).save(
        out / "runs" / "a.json")

    def broken(*a, **k):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(compare, "compare", broken)
    with pytest.raises(ZeroDivisionError):
        main(["compare", "--preset", "smoke", "--out", str(out), "--no-progress"])
    text = (out / "summary.txt").read_text()
    assert "ZeroDivisionError" in text and "a.json  scratch  seed 0  finished  val loss 1.5000" in text


def test_a_broken_record_in_the_folder_is_named(tmp_path, capsys, monkeypatch):
    import pytest

    import growkit.study as study
    from growkit.__main__ import main

    out = tmp_path / "cmp"
    (out / "runs").mkdir(parents=True)
    real_find, seen = study.RunCache.find, {}

    def find(self, spec):
        # The first run's record file, cut short (a disk that filled up, a copy interrupted).
        seen.setdefault("path", self.folder / f"{self.key(study.json_safe(spec))}.json")
        seen["path"].write_text('{"name": "scratch", "hist')
        return real_find(self, spec)

    monkeypatch.setattr(study.RunCache, "find", find)
    with pytest.raises(SystemExit) as info:
        main(["compare", "--preset", "smoke", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and f"{seen['path']}: cannot read this run record" in err
    assert "Delete it and re-run" in err and len(err.splitlines()) == 1  # one line, no traceback
    assert not (out / "summary.txt").exists()  # the error names its file: no listing needed


def test_a_summary_of_other_settings_written_meanwhile_is_not_overwritten(tmp_path, capsys, monkeypatch):
    """Two compares of other settings started at once into one fresh folder both pass the
    first check; the later one to write finds the other's summary under the summary lock and
    stops, naming both settings."""
    import pytest

    import growkit.compare as compare
    from growkit.__main__ import main
    from growkit.runs import write_summary
    from growkit.study import preset

    out = tmp_path / "race"
    theirs = {"config": json.loads(json.dumps(preset("smoke", lr_big=0.004).__dict__)), "per_seed": []}

    def the_other_process_finishes_first(cfg, options):
        write_summary(out, theirs, "their table")

    monkeypatch.setattr(compare, "train", the_other_process_finishes_first)
    with pytest.raises(SystemExit) as info:
        main(["compare", "--preset", "smoke", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "lr_big: 0.004 there, 0.003 now" in err and "--out" in err
    assert json.loads((out / "summary.json").read_text()) == theirs
    assert (out / "summary.txt").read_text() == "their table\n"


def test_a_failure_never_replaces_a_good_summary(tmp_path, capsys, monkeypatch):
    """A failed later call lists the runs beside a good summary (summary_failed.txt), never
    over it; an error that names its own file (a truncated resume file) lists nothing."""
    import pytest

    import growkit.compare as compare
    from growkit.__main__ import main
    from growkit.checkpoint import CheckpointError
    from growkit.runs import write_summary
    from growkit.study import preset

    out = tmp_path / "cmp"
    (out / "runs").mkdir(parents=True)
    write_summary(out, {"config": json.loads(json.dumps(preset("smoke").__dict__))}, "the good table")
    for error in (CheckpointError(out / "runs" / "a.resume.pt", "it is truncated"), ZeroDivisionError("x")):
        def fails(*a, error=error, **k):
            raise error

        monkeypatch.setattr(compare, "train", fails)
        with pytest.raises((SystemExit, ZeroDivisionError)):
            main(["compare", "--preset", "smoke", "--out", str(out), "--no-progress"])
        assert (out / "summary.txt").read_text() == "the good table\n"
        assert (out / "summary_failed.txt").exists() == isinstance(error, ZeroDivisionError)
    assert "a.resume.pt: cannot load this checkpoint" in capsys.readouterr().err
