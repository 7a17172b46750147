"""The GPT growth study: one budget for every run, the cache, the command line, the explorer."""

import json

import pytest

from growkit import Study, Variant, study
from growkit.__main__ import main
from growkit.explorer import Explorer
from growkit.record import Record
from growkit.runs import RunCache
from growkit.speedup import text_table


@pytest.fixture(scope="module")
def smoke() -> Study:
    return Study.from_preset("smoke", progress=False)


def test_presets_mean_one_thing_and_auto_picks_from_the_hardware():
    assert study.pick_preset("auto") == "cpu"  # no GPU here
    assert study.preset("smoke").learn_steps == 5 and study.preset("cpu").learn_steps == 100
    assert study.preset("cpu").tokens_per_param == 40  # the course's and the CLI's alike
    with pytest.raises(ValueError, match="known: .*'smoke'"):
        study.preset("laptop")


def test_x2_lessons_run_where_the_target_is_narrower_and_trained_longer():
    assert study.x2_preset("cpu") == "cpu-x2" and study.x2_preset("auto") == "cpu-x2"
    assert study.x2_preset("gpu") == "gpu" and study.x2_preset("smoke") == "smoke"
    x2 = Study.from_preset("cpu-x2", progress=False)
    assert (x2.target.n_layer, x2.target.n_embd, x2.cfg.small_layers) == (4, 32, 2)
    cpu = Study.from_preset("cpu", progress=False)
    # About the cpu preset's FLOPs (the point of a narrower target at 4x the tokens/param).
    assert 0.6 < x2.budget_flops / cpu.budget_flops < 1.0
    assert "= 160 tokens per target parameter" in x2.describe()


def test_a_narrower_model_trains_at_the_width_rule_s_higher_rate():
    cpu = Study.from_preset("cpu", progress=False)
    narrow = study.small_config(cpu.target, "width", 2)
    assert cpu.lr_for(cpu.target) == cpu.cfg.lr_big
    assert cpu.lr_for(narrow) == pytest.approx(2 * cpu.cfg.lr_big)  # 4L×24: twice 4L×48's
    one_block = study.small_config(cpu.target, "depth", 4)
    assert cpu.lr_for(one_block) == cpu.cfg.lr_small  # depth alone changes nothing
    assert cpu.cfg.lr_small < cpu.lr_for(study.small_config(cpu.target, "depth", 2)) < cpu.cfg.lr_big


def test_every_run_gets_the_same_flops_budget(smoke):
    rows = smoke.run([Variant("stack", "depth", 4), Variant("zero", "width", 2)])
    spent = [smoke.scratch.total_flops, *(r.flops for r in rows), *(smoke.small_alone(v).total_flops
                                                                  for v in smoke.variants.values())]
    for flops in spent:  # to within one step of the smallest model (35 target steps at smoke size)
        assert abs(flops / smoke.budget_flops - 1) < 0.03
    assert smoke.target.n_layer == smoke.cfg.small_layers * smoke.cfg.factor


def test_rows_are_typed_and_serialise_to_strict_json(smoke):
    row = smoke.row(Variant("zero", "width", 2))
    assert isinstance(row, study.Row) and row.name == "zero→×2" and row.op == "zero"
    data = json.loads(json.dumps(row.to_dict(), allow_nan=False))
    assert data["small"] == "4L×8 alone" and data["claims_preservation"] is True
    assert row.max_abs_logits < 1e-4  # G_zero in width preserves the function exactly
    assert "zero→×2" in smoke.table([row]) and "4L×8 alone" in smoke.table([row])
    assert "The target loses to" in smoke.verdict(row)  # 2 tokens/param: the small model alone wins


def test_small_models_shrink_the_target_the_right_way(smoke):
    target = smoke.target
    depth = study.small_config(target, "depth", 2)
    assert (depth.n_layer, depth.n_embd) == (target.n_layer // 2, target.n_embd)
    width = study.small_config(target, "width", 2)
    assert width.head_dim == target.head_dim and width.n_embd == target.n_embd // 2
    assert width.mlp_hidden * 2 == target.mlp_hidden
    with pytest.raises(ValueError, match="divide"):
        study.small_config(target, "depth", 3)
    with pytest.raises(ValueError, match="heads"):
        study.small_config(target, "width", 4)  # the smoke target has 2 heads
    assert study.valid_factors(smoke.cfg, "depth") == [2, 4]


def test_variants_are_named_from_the_registry_labels(smoke):
    assert [v.name for v in smoke.operators("depth", 4)] == ["stack↑×4", "zero↑×4", "random↑×4", "learn↑×4"]
    assert [v.name for v in smoke.operators("width", 2)] == ["direct→×2", "zero→×2", "random→×2", "learn→×2"]
    assert Variant("direct", "depth", 4).name == "stack↑×4"  # G_direct in depth is G_stack
    assert smoke.operators("depth", 4)[-1].options == {"steps": smoke.cfg.learn_steps}
    names = [v.name for v in smoke.stacking_ablation()]
    # 4 target blocks -> a 2-block small model at g=2, where middle coincides with bottom.
    assert names == ["stack↑×2", "interpolate↑×2", "partial-bottom↑×2", "partial-top↑×2"]
    grid = smoke.grid("stack", "depth", [0.1, 0.5], [2, 3, 4])  # 3 does not divide 4 blocks
    assert [v.name for v in grid] == ["stack↑×2 @10%", "stack↑×2 @50%", "stack↑×4 @10%", "stack↑×4 @50%"]


def test_learned_growth_stays_on_budget_and_runs_are_cached(tmp_path, monkeypatch):
    first = Study.from_preset("smoke", progress=False, cache_dir=tmp_path)
    learn = Variant("learn", "width", 2, options={"steps": 3})
    row = first.row(learn)
    # The map's phase is charged to the ledger and taken out of the steps after growth.
    assert abs(row.flops / first.budget_flops - 1) < 0.03
    assert row.learn_loss_start is not None
    finished = [p for p in tmp_path.glob("*.json") if "cache_spec" in Record.load(p).meta]
    assert len(finished) == 3  # scratch, the small model alone, the grown run

    def no_training(*args, **kwargs):
        raise AssertionError("a cached run was trained again")

    monkeypatch.setattr(study, "Trainer", no_training)
    again = Study.from_preset("smoke", progress=False, cache_dir=tmp_path)
    renamed = Variant("learn", "width", 2, options={"steps": 3}, label="LiGO width")
    assert again.add(renamed).name == "LiGO width"
    assert again.add(renamed).history == first.grown[learn.name].history


def test_an_unfinished_record_in_the_cache_is_not_reused(tmp_path):
    cache = RunCache(tmp_path)
    spec = {"kind": "test"}
    Record(name="partial", history=[{"val_loss": 1.0}]).save(tmp_path / f"{cache.key(spec)}.json")
    assert cache.find(spec) is None  # no cache_spec: a run killed mid-way
    done = cache.get(spec, "done", lambda out, stem: Record(name=stem, history=[{"val_loss": 0.5}]))
    assert cache.find(spec).history == done.history and done.name == "done"


def test_compare_end_to_end(tmp_path, capsys, monkeypatch):
    out = tmp_path / "cmp"
    assert main(["compare", "--preset", "smoke", "--seeds", "0", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "speedup" in printed and str(out / "compare.png") in printed
    summary = json.loads((out / "summary.json").read_text())
    row = summary["per_seed"][0]
    assert row["name"] == "stack↑×4" and row["small"] == "1L×16 alone"
    finished = {r.meta["run"]: r for r in map(Record.load, (out / "runs").glob("*.json"))}
    assert finished["grown"].final_val_loss == row["val_loss"]
    assert finished["scratch"].final_val_loss == row["scratch_val_loss"]
    assert finished["grown"].events[0]["op"] == "stack" and len(finished["grown"].phases) == 2
    assert (out / "compare.png").stat().st_size > 10_000
    monkeypatch.setattr(study, "Trainer", None)  # a second call trains nothing
    assert main(["compare", "--preset", "smoke", "--seeds", "0", "--out", str(out), "--no-progress"]) == 0


def test_run_settings_on_the_command_line_change_no_run_name(tmp_path):
    """--set checkpoint_every / prune / seeds go to RunOptions: the runs keep the names (the
    cache keys) they have without them, and the summary's config is the StudyConfig alone."""
    plain, routed = tmp_path / "plain", tmp_path / "routed"
    assert main(["compare", "--preset", "smoke", "--seeds", "0", "--out", str(plain), "--no-progress"]) == 0
    assert main(["compare", "--preset", "smoke", "--set", "seeds=0", "--set", "checkpoint_every=3",
                 "--set", "prune=true", "--out", str(routed), "--no-progress"]) == 0
    names = {p.name.split(".")[0] for p in (plain / "runs").glob("*.json")}
    assert names == {p.name.split(".")[0] for p in (routed / "runs").glob("*.json")}
    summaries = [json.loads((d / "summary.json").read_text()) for d in (plain, routed)]
    assert summaries[0]["per_seed"] == summaries[1]["per_seed"]  # the same numbers
    assert summaries[0]["config"] == summaries[1]["config"] and "checkpoint_every" not in summaries[1]["config"]
    # prune: a finished grown run keeps its final checkpoint only
    assert len(list((plain / "runs").glob("*.phase0.pt"))) == 3
    assert len(list((routed / "runs").glob("*.phase0.pt"))) == 2


def test_bad_override_names_the_settings(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--set", "grow_frac=0.3"])
    assert "grow_fraction" in capsys.readouterr().err


def test_text_table_aligns_columns():
    text = text_table(["run", "loss"], [["scratch", "1.2345"], ["stack↑×4", "0.5"]])
    assert text.splitlines() == ["run         loss", "scratch   1.2345", "stack↑×4     0.5"]


def test_explorer_headless_and_through_its_widget():
    explorer = Explorer(Study.from_preset("smoke", progress=False, learn_steps=2))
    row = explorer.run("zero", "width", 2)
    assert row.max_abs_logits < 1e-4 and "zero→×2" in explorer.table()
    ui = explorer.widget()  # builds without a person (and never blocks)
    (op, dim), (factor, when), (go, _clear) = (box.children for box in ui.children[1:4])  # [0]: restart line
    assert ("G_stack", "direct") in op.options  # labels from the registry
    op.value, dim.value = "direct", "depth"
    assert list(factor.options) == [2, 4]
    factor.value, when.value = 4, 0.5
    go.click()  # what a person's click runs: train, overlay, readout
    assert [v.name for v in explorer.shown] == ["zero→×2", "stack↑×4 @50%"]
    assert "stack↑×4 @50%" in ui.children[-1].value
