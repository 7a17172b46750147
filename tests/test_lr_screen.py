"""tools/lr_screen.py: a model alone at several learning rates, into a Study's own cache."""

from __future__ import annotations

import sys
from pathlib import Path

import growkit.study
from growkit.study import Study, small_config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import lr_screen  # noqa: E402


def test_the_screen_trains_the_runs_a_study_then_reuses(tmp_path, capsys, monkeypatch):
    out = tmp_path / "screen"
    assert lr_screen.main(["--preset", "smoke", "--layers", "2", "--lr", "0.003", "0.006",
                           "--workers", "2", "--out", str(out)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("lr ")]
    losses = {float(line.split()[1]): float(line.split()[-1]) for line in lines}
    assert set(losses) == {0.003, 0.006} and losses[0.003] != losses[0.006]
    study = Study.from_preset("smoke", progress=False, cache_dir=out)
    two_blocks = small_config(study.target, "depth", 2)

    def no_training(*args, **kwargs):
        raise AssertionError("the study trained a run the screen had trained")

    monkeypatch.setattr(growkit.study, "Trainer", no_training)  # found in the cache, or this fails
    record = study.train_alone(two_blocks, lr=0.006)
    assert round(record.final_val_loss, 4) == losses[0.006]
