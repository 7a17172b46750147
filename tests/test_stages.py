"""Growing in stages (growkit.stages): the schedule's arithmetic, a staged run through the
Study on one budget and one ledger, its cache key, exact resume at any stage, what the
optimizer carries across growth, and the fitted timing rule."""

import ast
import dataclasses
import math

import pytest
import torch

from growkit import GPT, GPTConfig, TrainConfig, Trainer, load_text
from growkit.resume import Checkpointing
from growkit.runs import RunCache
from growkit.stages import (
    GRADUAL,
    OPTIMIZER_SETTINGS,
    TWO_STAGE,
    Schedule,
    Stage,
    fit_timing,
    gradual_stack,
    optimizer_settings,
    phase_steps,
    quadratic_peak,
    train_stages,
)
from growkit.study import Study, Variant
from growkit.train import seeded


def test_a_schedule_says_each_phase_s_model_and_share_of_the_budget():
    first = GPTConfig(vocab_size=80, block_size=16, n_layer=1, n_head=2, n_embd=16)
    assert [m.n_layer for m in TWO_STAGE.models(first)] == [1, 2, 4]
    assert TWO_STAGE.shares() == pytest.approx([0.05, 0.15, 0.80])
    assert [m.n_layer for m in GRADUAL.models(first)] == [1, 2, 3, 4]
    # Gradual stacking copies the top block onto the stack at each stage.
    assert [s.options["layers"] for s in GRADUAL.stages] == [[0, 0], [0, 1, 1], [0, 1, 2, 2]]
    assert [m.n_layer for m in gradual_stack(2, 8, [0.1, 0.2, 0.3], top=2).models(
        dataclasses.replace(first, n_layer=2))] == [2, 4, 6, 8]


def test_bad_schedules_are_refused_with_a_fix():
    with pytest.raises(ValueError, match=r"strictly increasing.*e\.g\. Schedule"):
        Schedule([Stage(0.2), Stage(0.1)])
    with pytest.raises(ValueError, match=r"in \(0, 1\).*e\.g\. Stage\(0\.05"):
        Stage(5)
    with pytest.raises(ValueError, match=r"one-stage Variant\('learn'"):
        Stage(0.1, "learn")
    with pytest.raises(ValueError, match=r"got 2 point\(s\).*gradual_stack\(1, 4, points="):
        gradual_stack(1, 4, [0.1, 0.2])
    with pytest.raises(ValueError, match="grow_fraction=0.1 has no meaning"):
        Variant("stack", "depth", 4, 0.1, schedule=TWO_STAGE)
    cpu = Study.from_preset("cpu", progress=False)
    with pytest.raises(ValueError, match="not the target 4L×48"):
        cpu.grown_plan(Variant("stack", "depth", 4, schedule=Schedule([Stage(0.05)])))


def test_one_growth_in_stages_is_the_one_stage_plan_s_arithmetic():
    cpu = Study.from_preset("cpu", progress=False)
    one = cpu.grown_plan(Variant("stack", "depth", 4))
    staged = cpu.grown_plan(Variant("stack", "depth", 4, schedule=Schedule([Stage(0.05, factor=4)])))
    assert [c.steps for c in staged.phases] == [one.before.steps, one.after.steps]
    assert staged.phases == [one.before, one.after]
    models = TWO_STAGE.models(one.small)
    steps = phase_steps(TWO_STAGE.shares(), [cpu.flops_per_step(m) for m in models], cpu.budget_flops)
    spent = sum(n * cpu.flops_per_step(m) for n, m in zip(steps, models))
    assert abs(spent / cpu.budget_flops - 1) < 0.002


def test_schedules_have_cache_keys_of_their_own_and_one_stage_keys_do_not_move():
    cpu = Study.from_preset("cpu", progress=False)

    def key(v):
        return RunCache.key(cpu.grown_spec(v, cpu.grown_plan(v)))

    one = Variant("stack", "depth", 4)
    assert key(one) == key(Variant("stack", "depth", 4, schedule=None))
    assert "stages" not in cpu.grown_spec(one, cpu.grown_plan(one))
    staged = [Variant("stack", "depth", 4, schedule=s) for s in (TWO_STAGE, GRADUAL)]
    assert len({key(one), *map(key, staged)}) == 3
    later = Schedule([Stage(0.05, factor=2), Stage(0.4, factor=2)])
    assert key(Variant("stack", "depth", 4, schedule=later)) != key(staged[0])


def test_a_staged_run_is_one_ledger_on_the_budget_with_every_growth_an_event(tmp_path):
    smoke = Study.from_preset("smoke", progress=False, cache_dir=tmp_path)
    variant = Variant("stack", "depth", 4, schedule=TWO_STAGE)
    rec = smoke.add(variant)
    assert [e["params_before"] < e["params_after"] for e in rec.events] == [True, True]
    assert [p["model"]["n_layer"] for p in rec.phases] == [1, 2, 4]
    for event, stage in zip(rec.events, TWO_STAGE.stages):  # each growth at its share, within a step
        assert abs(event["flops"] / smoke.budget_flops - stage.at) < 0.03
    assert abs(rec.total_flops / smoke.budget_flops - 1) < 0.03
    row = smoke.row(variant)
    assert row.name == TWO_STAGE.name and row.grow_fraction == 0.05
    again = Study(smoke.cfg, 0, preset="smoke", cache_dir=tmp_path, readonly=True)
    assert again.add(variant).history == rec.history  # read back from the cache, not retrained
    # The figure marks every growth event.
    from growkit import plots
    ax = plots.plot_curves([rec])
    assert len([ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]) == 2


def staged_run(out, interrupt_in_phase=None):
    corpus = load_text("kjv")
    cfg = GPTConfig(vocab_size=corpus.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16)
    configs = [TrainConfig(steps=6, batch_size=8, warmup=2, eval_every=3, eval_batches=2)] * 4
    trainer = Trainer(seeded(0, lambda: GPT(cfg)), corpus, configs[0], name="g", out_dir=out,
                      progress=False, checkpointing=Checkpointing(every=2))

    def fit(t):
        if t.phase == interrupt_in_phase:
            t.fit(steps=3)
            raise KeyboardInterrupt
        t.fit()

    train_stages(trainer, gradual_stack(1, 4, [0.1, 0.2, 0.3]), configs, fresh_optimizer=False, fit=fit)
    return trainer


@pytest.mark.parametrize("phase", [1, 3])
def test_a_staged_run_resumes_exactly_at_any_stage(tmp_path, phase):
    whole = staged_run(tmp_path / "a").record
    with pytest.raises(KeyboardInterrupt):
        staged_run(tmp_path / "b", interrupt_in_phase=phase)
    again = staged_run(tmp_path / "b")
    assert again.resumed_from is not None
    strip = [{k: v for k, v in h.items() if k != "wall_s"} for h in again.record.history]
    assert strip == [{k: v for k, v in h.items() if k != "wall_s"} for h in whole.history]
    assert len(again.record.events) == 3


@pytest.mark.parametrize("op, new_blocks_carried", [("stack", True), ("zero", False)])
def test_carried_moments_are_duplicated_for_stacked_blocks_and_zero_for_new_ones(op, new_blocks_carried):
    corpus = load_text("kjv")
    cfg = GPTConfig(vocab_size=corpus.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16)
    tc = TrainConfig(steps=3, batch_size=8, warmup=1, eval_every=3, eval_batches=1)
    trainer = Trainer(seeded(0, lambda: GPT(cfg)), corpus, tc, progress=False)
    trainer.fit()
    old = {n: trainer.optimizer.state[p]["exp_avg"].clone() for n, p in trainer.model.named_parameters()}
    trainer.grow(op, factor=2, config=tc, fresh_optimizer=False)
    state = {n: trainer.optimizer.state.get(p) for n, p in trainer.model.named_parameters()}
    assert torch.equal(state["blocks.0.attn.o_proj.weight"]["exp_avg"], old["blocks.0.attn.o_proj.weight"])
    new = state["blocks.1.attn.o_proj.weight"]  # stack: a copy of block 0; zero: a new block
    assert (new is not None) == new_blocks_carried
    if new_blocks_carried:
        assert torch.equal(new["exp_avg"], old["blocks.0.attn.o_proj.weight"])


def test_the_timing_fit_finds_a_known_peak_and_says_how_far_it_misses():
    # speedup = 0.4 - 0.5 (log10 f - log10 0.06)^2: the peak at 6%, exactly quadratic.
    fractions = [0.02, 0.05, 0.1, 0.25]
    speedups = [0.4 - 0.5 * (math.log10(f) - math.log10(0.06)) ** 2 for f in fractions]
    peak = quadratic_peak(fractions, speedups)
    assert peak.fraction == pytest.approx(0.06, rel=1e-6) and max(map(abs, peak.residuals)) < 1e-9
    assert peak.inside  # within the measured fractions: no extrapolation
    # Falling speedups with no turn: the peak is below the range, said so.
    assert not quadratic_peak([0.05, 0.1, 0.25], [0.3, 0.25, 0.1]).inside
    # Sweeps made from the rule itself (f* = 0.05 (T/40)^0.5 (g/4)^-1, curvature -0.3): the
    # joint fit gives it back, with no residual.
    def sweep(t, g, height):
        top = math.log10(0.05 * (t / 40) ** 0.5 * (g / 4) ** -1)
        return {"tokens_per_param": t, "factor": g, "speedups": {
            f: [height - 0.3 * (math.log10(f) - top) ** 2] * 3 for f in (0.025, 0.05, 0.1, 0.25)}}

    sweeps = [sweep(40, 4, 0.4), sweep(160, 4, 0.3), sweep(160, 2, 0.25), sweep(80, 4, 0.35)]
    sweeps[1]["speedups"][0.5] = [0.1, None, 0.2]  # a fraction some seed never reached: left out
    rule = fit_timing(sweeps)
    assert rule.exponent_budget == pytest.approx(0.5, abs=0.01)
    assert rule.exponent_factor == pytest.approx(-1, abs=0.01)
    assert rule.predict(40, 4) == pytest.approx(0.05, rel=0.01) and rule.curvature == pytest.approx(-0.3, rel=0.01)
    assert len(rule.residuals) == 16 and rule.rms < 1e-3


def test_optimizer_runs_are_picked_by_name_and_a_typo_names_the_choices():
    picked = optimizer_settings(["carried, re-warmup", "fresh, re-warmup"])
    assert list(picked) == ["carried, re-warmup", "fresh, re-warmup"]
    assert picked["carried, re-warmup"] == {"fresh_optimizer": False}
    with pytest.raises(ValueError, match="'carried'.*choose from") as err:
        optimizer_settings(["carried"])
    fix = str(err.value).split("e.g. OPTIMIZER_RUNS = ")[1].rstrip(".")
    assert list(optimizer_settings(ast.literal_eval(fix))) == list(OPTIMIZER_SETTINGS)


def test_the_sweep_tool_trains_only_the_chosen_lines_with_their_references(tmp_path, capsys):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
    import stage_sweep

    assert stage_sweep.main(["--preset", "smoke", "--seeds", "0", "--only", "@20", "--no-alone",
                             "--workers", "1", "--cache", str(tmp_path)]) == 0
    lines = (tmp_path / "stage_sweep.md").read_text().splitlines()[2:]
    assert [line.split(" | ")[0] for line in lines] == ["| G_stack ×4 @20.0%"]  # scratch and one-stage trained too
    import json

    names = [json.loads(f.read_text())["name"] for f in tmp_path.glob("*.json") if f.stem != "stage_sweep"]
    assert len(names) == 3 and not any(name.endswith(" alone") for name in names)  # scratch, 5% and 20%
    with pytest.raises(SystemExit):  # a text that matches nothing names the choices
        stage_sweep.main(["--only", "nothing like it", "--cache", str(tmp_path)])
    assert "one-stage G_stack ×4 @5%" in capsys.readouterr().err
