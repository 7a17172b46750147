"""The operator table's arithmetic over seeds (tools/operator_table.py), on hand-made
per-seed Rows: no training."""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path

import pytest

from growkit.study import Row, Study, preset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from operator_table import aggregate, format_table, variants  # noqa: E402


def row(name: str, op: str, dim: str, loss: float, speedup: float | None, order: str | None = None,
        early: bool = False) -> Row:
    values = {f.name: None for f in fields(Row)}  # the numbers the table does not read
    values.update(name=name, op=op, dim=dim, factor=4, small="1L×48 alone", val_loss=loss,
                  speedup_flops=speedup, beats_scratch=speedup is not None, beats_small=True,
                  max_abs_logits=0.0, tokens_per_param=45.0, reached_before_growth=early,
                  options={} if order is None else {"order": order})
    return Row(**values)


def seed(loss_shift: float, stack_speedup: float | None) -> dict:
    return {"describe": "target 4L×48", "alone": {"scratch": {"val_loss": 1.3 + loss_shift, "params": 117_000,
                                                            "tokens_per_param": 40.0}},
            "rows": [row("stack↑×4", "direct", "depth", 1.25 + loss_shift, stack_speedup, early=loss_shift > 0),
                     row("interpolate↑×2", "direct", "depth", 1.27 + loss_shift, 0.1, order="interpolate")]}


def test_means_and_spreads_over_seeds_and_a_speedup_mean_only_when_every_seed_reached():
    table = aggregate({0: seed(0.0, 0.2), 1: seed(0.02, 0.4)})
    stack, interp = table["rows"]
    assert stack["val_loss_mean"] == pytest.approx(1.26) and stack["val_loss_std"] == pytest.approx(0.01414, abs=1e-4)
    assert stack["speedup_flops_mean"] == pytest.approx(0.3)
    assert "+20.0% +40.0%*" in format_table(table)  # seed 1's came before growth: marked
    assert stack["paper_speedup"] == pytest.approx(0.491)  # G_stack in the paper
    assert interp["paper_speedup"] is None  # the ablations have no single paper number
    assert table["alone"][0]["val_loss_mean"] == pytest.approx(1.31)
    # A seed that never reached scratch's loss makes the mean meaningless: none is given.
    never = aggregate({0: seed(0.0, 0.2), 1: seed(0.0, None)})
    assert never["rows"][0]["speedup_flops_mean"] is None and never["rows"][0]["beats_scratch"] == 1
    text = format_table(never)
    assert "never" in text and "+49.1%" in text and "1/2" in text
    lines = text.splitlines()
    assert lines[0] == "target 4L×48" and lines[2].split()[:3] == ["run", "val", "loss"]


def test_the_table_has_the_eight_operators_and_the_stacking_ablations():
    names = [v.name for v in variants(Study(preset("cpu")))]
    assert names[:8] == ["stack↑×4", "zero↑×4", "random↑×4", "learn↑×4",
                         "direct→×2", "zero→×2", "random→×2", "learn→×2"]
    assert {"stack↑×2", "interpolate↑×2"} <= set(names[8:]) and any("partial" in n for n in names)


def test_parts_pick_the_x2_comparisons_once_each():
    study = Study(preset("cpu-x2"))
    names = [v.name for v in variants(study, ("width", "ablation"))]
    assert names == ["direct→×2", "zero→×2", "random→×2", "learn→×2",
                     "stack↑×2", "interpolate↑×2", "partial-bottom↑×2", "partial-top↑×2"]
    everything = [v.name for v in variants(study)]
    assert everything.count("stack↑×2") == 1  # depth G_stack x2 is also the ablation's stack
    with pytest.raises(ValueError, match="unknown parts \\['sideways'\\]: choose from depth, width, ablation"):
        variants(study, ("sideways",))
