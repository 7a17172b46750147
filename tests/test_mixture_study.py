"""The MixtureGrowth study: one budget for every run, cached runs, the table and the CLI."""

import json

import pytest

from growkit import mixture_study
from growkit.__main__ import main
from growkit.runs import RunOptions


def opts(folder, **kw):
    return RunOptions(cache_dir=folder, progress=False, **kw)


def test_mixture_study_smoke(tmp_path, monkeypatch):
    cfg, runs = mixture_study.preset("smoke", epochs=0.3), ["scratch", "mixture-zero", "net2wider"]
    summary = mixture_study.run(cfg, opts(tmp_path), runs)
    rows = {r["run"]: r for r in summary["rows"]}
    assert set(rows) == {"scratch", "mixture-zero", "net2wider"}
    for r in rows.values():
        assert r["flops"] == pytest.approx(r["budget_flops"], rel=0.1)  # one budget for all
        assert 0 <= r["test_acc_mean"] <= 1
    assert "mixture-zero" in summary["table"]
    found = mixture_study.load_records(cfg, tmp_path, [0], runs)
    assert found["net2wider"][0].meta["test_acc"] == rows["net2wider"]["test_acc"][0]
    monkeypatch.setattr(mixture_study, "Trainer", None)  # finished runs are not trained again
    assert mixture_study.run(cfg, opts(tmp_path), runs)["rows"] == summary["rows"]
    assert mixture_study.run(cfg, opts(tmp_path), runs, readonly=True)["rows"] == summary["rows"]


def test_mixture_cli_writes_the_table(tmp_path, capsys, monkeypatch):
    out = tmp_path / "mx"
    args = ["mixture", "--preset", "smoke", "--runs", "scratch", "small", "--set", "epochs=0.2",
            "--out", str(out), "--no-progress"]
    assert main([*args, "--workers", "2"]) == 0  # --workers for both commands
    assert "small" in (out / "summary.txt").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert [r["run"] for r in summary["rows"]] == ["scratch", "small"]
    assert summary["config"]["epochs"] == 0.2 and "seeds" not in summary["config"]
    # Again, into the same folder: its settings check passes and nothing trains.
    monkeypatch.setattr(mixture_study, "Trainer", None)
    assert main([*args, "--set", "seeds=0"]) == 0
    assert json.loads((out / "summary.json").read_text())["rows"] == summary["rows"]


def test_unknown_preset_and_run_name_the_choices():
    with pytest.raises(ValueError, match="known: .*'paper'"):
        mixture_study.preset("laptop")
    with pytest.raises(ValueError, match="unknown runs"):
        mixture_study.run(mixture_study.preset("smoke"), None, ["mixture-ones"])


def test_mixture_table_flags_speedups_the_half_width_phase_earned_alone():
    early = {"speedup_flops": [1.1, 0.5], "reached_before_growth": [True, False],
             "speedup_flops_after_growth": [None, 0.5]}
    assert mixture_study.speedup_cell(early) == "+110%* +50%  after growth: never +50%"
    grown_only = {"speedup_flops": [0.2], "reached_before_growth": [False],
                  "speedup_flops_after_growth": [0.2]}
    assert mixture_study.speedup_cell(grown_only) == "+20%"


def history(records):
    return {(name, s): [(h["step"], h["val_loss"]) for h in r.history] + [r.meta["test_acc"]]
            for name, by_seed in records.items() for s, r in by_seed.items()}


def test_mixture_workers_give_the_numbers_of_one_process_at_one_thread(tmp_path):
    import torch

    cfg, runs = mixture_study.preset("smoke", epochs=0.3), ["scratch", "small", "mixture-zero"]
    parallel = mixture_study.run(cfg, opts(tmp_path / "parallel", workers=2), runs)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        serial = mixture_study.run(cfg, opts(tmp_path / "serial"), runs)
    finally:
        torch.set_num_threads(threads)
    assert {r.meta["threads"] for by in parallel["records"].values() for r in by.values()} == {1}
    assert history(parallel["records"]) == history(serial["records"])  # bit for bit
    with pytest.raises(mixture_study.SettingError, match="cache_dir="):
        mixture_study.run(cfg, opts(None, workers=2), runs)


def test_runs_that_begin_alike_train_it_once_and_come_out_as_if_trained_alone(tmp_path, capsys):
    alone = {}
    for run in ("mixture-zero", "zero"):
        cfg = mixture_study.preset("smoke", epochs=0.3)
        alone[run] = mixture_study.run(cfg, opts(tmp_path / run), [run])["records"][run][0]
    capsys.readouterr()
    cfg = mixture_study.preset("smoke", epochs=0.3)
    together = mixture_study.run(cfg, opts(tmp_path / "together"),
                                 ["mixture-orthogonal", "mixture-zero", "random", "zero"])["records"]
    said = capsys.readouterr().out.splitlines()
    # Each family's second run continued from its first run's state at the growth point...
    assert len(list((tmp_path / "together").glob("start-*.resume.pt"))) == 2
    for run in ("mixture-zero", "zero"):
        assert any(line.startswith(f"{run}-s0: resuming from") and "start-" in line for line in said)
    assert not any(line.startswith(("mixture-orthogonal-s0:", "random-s0:")) for line in said)
    # ...and came out bit for bit as if trained alone, every FLOP of its beginning on the ledger.
    for run, rec in alone.items():
        shared = together[run][0]
        assert history({run: {0: shared}}) == history({run: {0: rec}})
        assert shared.total_flops == rec.total_flops and shared.events == rec.events
        assert shared.name == rec.name == f"{run}-s0"


def test_workers_hand_out_one_run_of_each_family_first(tmp_path):
    runs = ["scratch", "mixture-zero", "mixture-copy", "zero", "net2wider"]
    jobs = mixture_study.jobs(mixture_study.preset("smoke"), opts(tmp_path, seeds=[0, 1], workers=2), runs)
    handed = [job.args[1:3] for job in jobs]
    assert handed[:4] == [("mixture-zero", 0), ("zero", 0), ("mixture-zero", 1), ("zero", 1)]
    assert sorted(handed) == sorted((r, s) for s in (0, 1) for r in runs)
    assert [job.name for job in jobs[:2]] == ["mixture-zero-s0", "zero-s0"]


def test_train_images_is_a_fixed_share_of_the_training_split_on_the_same_budget():
    whole = mixture_study.preset("smoke")
    data = mixture_study.load_data(whole)
    n = data.size("train")
    # epochs count over the subset: 300 images for 2 * n / 300 epochs cost what 2 epochs of all n do
    part = mixture_study.preset("smoke", train_images=300, epochs=whole.epochs * n / 300)
    subset = mixture_study.load_data(part)
    assert subset.size("train") == 300 and data.size("test") == subset.size("test")
    assert subset.splits["train"][1].equal(data.splits["train"][1][:300])
    assert (subset.mean, subset.std) == (data.mean, data.std)  # the same units
    assert mixture_study.phase_plan(part, subset, "scratch")[0] == pytest.approx(
        mixture_study.phase_plan(whole, data, "scratch")[0], rel=1e-9)
    # runs cached before the field existed keep their names: it is in a spec only when set
    assert "train_images" not in whole.settings() and part.settings()["train_images"] == 300
    with pytest.raises(mixture_study.SettingError, match=rf"train_images={n // 10}\b"):
        mixture_study.load_data(mixture_study.preset("smoke", train_images=10**6))
