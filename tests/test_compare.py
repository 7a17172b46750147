import json

import pytest

from growkit import GPT
from growkit.__main__ import main
from growkit.compare import plan, preset
from growkit.record import Record


def test_every_run_gets_the_same_flops_budget():
    cfg = preset("cpu")
    p = plan(cfg, vocab_size=68)
    small, big = GPT(p.small), GPT(p.big)
    step_flops = {"small": small.flops_per_token() * cfg.batch_size * cfg.block_size,
                  "big": big.flops_per_token() * cfg.batch_size * cfg.block_size}
    spent = {
        "scratch": p.steps["scratch"][0] * step_flops["big"],
        "grown": p.steps["grown"][0] * step_flops["small"] + p.steps["grown"][1] * step_flops["big"],
        "small": p.steps["small"][0] * step_flops["small"],
    }
    for run, flops in spent.items():
        assert abs(flops / p.budget_flops - 1) < 0.01, run
    assert p.big.n_layer == cfg.small_layers * cfg.factor


def test_compare_end_to_end_on_cpu(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", "--preset", "smoke", "--seeds", "0", "--out", str(out),
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "speedup" in printed and str(out / "compare.png") in printed
    summary = json.loads((out / "summary.json").read_text())
    row = summary["per_seed"][0]
    for run in ("scratch", "grown", "small"):
        rec = Record.load(out / "records" / f"{run}-s0.json")
        assert rec.history[-1]["val_loss"] == row[f"{run}_val_loss"]
        assert row[f"{run}_tokens_per_param"] > 0
    grown = Record.load(out / "records" / "grown-s0.json")
    assert grown.events[0]["op"] == "stack" and len(grown.phases) == 2
    # Equal budgets within a step's worth of FLOPs.
    assert abs(row["grown_flops"] / row["scratch_flops"] - 1) < 0.1
    assert (out / "compare.png").stat().st_size > 10_000


def test_bad_override_names_the_settings(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--set", "grow_frac=0.3"])
    assert "grow_fraction" in capsys.readouterr().err


def test_a_finished_run_is_reused_not_retrained(tmp_path):
    from growkit.compare import run_one
    cfg = preset("smoke")
    first = run_one(cfg, "small", 0, tmp_path)
    again = run_one(cfg, "small", 0, tmp_path)
    assert again.history == first.history and again.final["wall_s"] == first.final["wall_s"]
    other = run_one(preset("smoke", lr_small=1e-3), "small", 0, tmp_path)
    assert other.final["wall_s"] != first.final["wall_s"]  # different settings: trained anew
