import json
import math

import pytest

from growkit import GPT, sweep
from growkit.compare import run_one
from growkit.record import Record
from growkit.widgets import Explorer


@pytest.fixture(scope="module")
def smoke():
    return sweep.course_config("cpu", smoke=True)


def test_the_default_variant_is_compares_grown_run(smoke):
    study = sweep.Study(smoke, progress=False)
    grown = study.add(sweep.Variant(smoke.op, "depth", smoke.factor))
    for ours, theirs in [(grown, run_one(smoke, "grown", 0, progress=False)),
                         (study.scratch, run_one(smoke, "scratch", 0, progress=False))]:
        for key in ("step", "flops", "val_loss"):
            assert ours.series(key) == theirs.series(key)


def test_small_models_shrink_the_target_the_right_way(smoke):
    target = sweep.Study(smoke).target
    depth = sweep.small_config(target, "depth", 2)
    assert (depth.n_layer, depth.n_embd) == (target.n_layer // 2, target.n_embd)
    width = sweep.small_config(target, "width", 2)
    assert width.head_dim == target.head_dim and width.n_embd == target.n_embd // 2
    assert width.mlp_hidden * 2 == target.mlp_hidden
    with pytest.raises(ValueError, match="divide"):
        sweep.small_config(target, "depth", 3)
    with pytest.raises(ValueError, match="heads"):
        sweep.small_config(target, "width", 4)  # the smoke target has 2 heads
    assert sweep.valid_factors(smoke, "depth") == [2, 4]


def test_stacking_ablation_lists_each_layer_order_once(smoke):
    names = [v.name for v in sweep.stacking_ablation(smoke)]
    # 4 target blocks -> a 2-block small model at g=2, where middle coincides with bottom.
    assert names == ["stack↑×2", "interpolate↑×2", "partial-bottom↑×2", "partial-top↑×2"]


def test_learned_growth_stays_on_budget_and_runs_are_cached(smoke, tmp_path, monkeypatch):
    study = sweep.Study(smoke, progress=False, cache_dir=tmp_path)
    learn = sweep.Variant("learn", "width", 2, options={"steps": 3})
    row = study.row(learn)
    # The map's phase is charged to the ledger and taken out of the steps after growth.
    assert abs(row["flops"] / study.budget_flops - 1) < 0.03
    assert row["learn_loss_start"] is not None
    assert len(list(tmp_path.glob("*.json"))) == 3  # scratch, the small model alone, the grown run

    def no_training(*args, **kwargs):
        raise AssertionError("a cached run was trained again")

    monkeypatch.setattr(sweep, "Trainer", no_training)
    again = sweep.Study(smoke, progress=False, cache_dir=tmp_path)
    renamed = sweep.Variant("learn", "width", 2, options={"steps": 3}, label="LiGO width")
    assert again.add(renamed).name == "LiGO width"
    assert again.add(renamed).history == study.grown[learn.name].history


def record(points: list[tuple[float, float]], name: str) -> Record:
    return Record(name=name, history=[{"flops": f, "tokens": f, "val_loss": v, "phase": 0}
                                      for f, v in points], phases=[{"n_params": 1}])


def test_crossover_is_where_the_bigger_model_gets_ahead_for_good():
    small = record([(1, 3.0), (10, 2.0), (100, 1.5), (1000, 1.4)], "small")
    big = record([(1, 3.5), (10, 2.5), (100, 1.4), (1000, 1.2)], "big")
    assert sweep.crossover_flops(small, big) == 100
    assert sweep.crossover_flops(big, small) is None


def test_guideline_asks_for_more_than_the_budget_at_course_sizes():
    cpu = sweep.guideline_point(sweep.course_config("cpu"), vocab_size=68)
    assert cpu["guideline_fraction"] > 1
    assert cpu["guideline_fraction"] == pytest.approx(
        cpu["guideline_tokens"] / cpu["budget_tokens_small"])
    # The paper's own 7B point sits at a couple of percent of its budget.
    paper = sweep.guideline_fraction(sweep.PAPER_POINT["params"], sweep.PAPER_POINT["flops"])
    assert 0.005 < paper < 0.05
    n = sweep.guideline_break_even(80.0)
    assert sweep.guideline_fraction(n, 6 * 80 * n * n) == pytest.approx(1.0, rel=1e-6)


def test_flops_breakdown_adds_up_to_the_models_count(smoke):
    cfg = sweep.Study(smoke).target
    parts = sweep.flops_breakdown(cfg)
    assert parts["total"] == pytest.approx(GPT(cfg).flops_per_token())
    assert sweep.counted_flops_per_token(cfg) == pytest.approx(parts["total"], rel=0.01)


def test_results_are_strict_json(tmp_path):
    path = sweep.save_results(tmp_path / "r.json", {"a": math.nan, "b": [math.inf, 1.0], "c": None})
    assert json.loads(path.read_text()) == {"a": None, "b": [None, 1.0], "c": None}


def test_explorer_headless_and_through_its_widget(smoke):
    explorer = Explorer(sweep.Study(smoke, progress=False), learn_steps=2)
    row = explorer.run("zero", "width", 2)
    assert row["max_abs_logits"] < 1e-4 and "zero→×2" in explorer.table()
    ui = explorer.widget()  # builds without a person (and never blocks)
    (op, dim), (factor, when), (go, _clear) = (box.children for box in ui.children[:3])
    op.value, dim.value = "direct", "depth"
    assert list(factor.options) == [2, 4]
    factor.value, when.value = 4, 0.5
    go.click()  # what a person's click runs: train, overlay, readout
    assert [v.name for v in explorer.shown] == ["zero→×2", "stack↑×4 @50%"]
    assert "stack↑×4 @50%" in ui.children[4].value
