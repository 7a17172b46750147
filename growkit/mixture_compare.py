"""MixtureGrowth against the other ways of widening a CNN, on one FLOPs budget.

Every run spends the same training FLOPs C (set as `epochs` of the full-width net over the
train split, counted by FlopCounterMode) and ends at the full width, except `small`:

    scratch              the full-width CNN from random initialisation, all of C
    small                the half-width CNN alone, all of C (growth must beat this too)
    mixture-<coefs>      a TemplateCNN's two half-width members, grow_fraction/2 of C each,
                         grown by MixtureGrowth (coefs: orthogonal, zero, copy, random),
                         then the grown net for the rest
    random/zero/net2wider  the half-width CNN for grow_fraction of C, widened 2x by that
                         operator, then the full-width CNN for the rest

Each reports top-1 accuracy on the data set's whole test split. Records are saved as they
go and a finished run is not trained again, so an interrupted comparison resumes, and
seeds can run in parallel processes writing to the same folder:

    python -m growkit.mixture_compare --preset cpu --seeds 0 1 2 --out runs/mixture
    python -m growkit.mixture_compare --preset cpu --seeds 1 --out runs/mixture &  # a 2nd core
    python -m growkit.mixture_compare --preset smoke --out /tmp/mx     # seconds, digits
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from .cnn import CNN, CNNConfig, TemplateCNN, TemplateCNNConfig, preset_config
from .data import ImageDataset, load_images
from .grow.cnn_width import widened_config
from .grow.mixture import COEF_VARIANTS
from .record import Record, atomic_write_text
from .speedup import pct, speedup
from .train import TrainConfig, Trainer, accuracy, training_flops

BASELINES = ("random", "zero", "net2wider")
RUNS = ("scratch", "small", *(f"mixture-{c}" for c in COEF_VARIANTS), *BASELINES)


@dataclass
class MixtureCompareConfig:
    data: str = "fashion-mnist"
    shape: str = "cpu"  # a growkit.cnn preset: the full-width net
    templates: int = 2  # per member (the official default)
    epochs: float = 3.0  # the FLOPs budget, in epochs of the full-width net
    grow_fraction: float = 0.5  # share of the budget spent before growth
    batch_size: int = 128
    # The paper's recipe: SGD, momentum 0.9, Nesterov, weight decay 5e-4, lr 0.1, cosine.
    lr: float = 0.1
    lr_after_growth: float | None = None  # None: lr again; the official recipe uses lr / 100
    weight_decay: float = 5e-4
    momentum: float = 0.9
    warmup: int = 20  # steps of linear warmup at the start of every phase
    augment: bool | None = None  # None: the data set's default (crop and flip for CIFAR)
    net2wider_noise: float = 0.0  # 0: exact copies, as the official baseline
    evals: int = 10  # evaluations per run, spread over its phases
    eval_batches: int = 8
    runs: list[str] = field(default_factory=lambda: list(RUNS))
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])

    def __post_init__(self) -> None:
        if not 0 < self.grow_fraction < 1:
            raise ValueError(f"grow_fraction must be in (0, 1), got {self.grow_fraction}.")
        unknown = sorted(set(self.runs) - set(RUNS))
        if unknown:
            raise ValueError(f"unknown runs {unknown}; known: {list(RUNS)}.")


PRESETS: dict[str, dict[str, Any]] = {
    # Seconds: the digits set and the tiny shape, for tests. Too small to mean anything.
    "smoke": dict(data="digits", shape="tiny", epochs=2.0, batch_size=32, warmup=2, evals=2,
                  eval_batches=2, seeds=[0]),
    # The measurement on a CPU: fashion-mnist, the "tiny" WRN-10-1 shape (about 50
    # MFLOP per training image at full width), 2 epochs of the full-width net as the budget:
    # 2-5 minutes per run on one core, about 30 minutes per seed for all nine runs. The
    # bigger "cpu" shape (WRN-10-2, 4x the FLOPs) is `--set shape=cpu`.
    "cpu": dict(shape="tiny", epochs=2.0),
    # One GPU in about ten minutes for the nine runs (the course's gpu preset): CIFAR-10, a
    # WRN-16-4 grown from two WRN-16-2-width members, 10 epochs of budget. Sized by
    # arithmetic, not yet timed on a GPU.
    "gpu": dict(data="cifar10", shape="wrn-16-4", epochs=10.0, warmup=100, evals=20, eval_batches=10),
    # Colab's T4: the gpu preset on half its budget.
    "t4": dict(data="cifar10", shape="wrn-16-4", epochs=5.0, warmup=100, evals=20, eval_batches=10),
    # The paper's CIFAR-100 setting on one GPU: WRN-28-10 grown from two WRN-28-5-width
    # members; members 50 epochs each, grown net 150 (budget 200 full-width epochs). Hours.
    "paper": dict(data="cifar100", shape="wrn-28-10", epochs=200.0, grow_fraction=0.25,
                  warmup=400, evals=40, eval_batches=20),
}


def preset(name: str, **overrides: Any) -> MixtureCompareConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known: {sorted(PRESETS)}.")
    return MixtureCompareConfig(**{**PRESETS[name], **overrides})


@dataclass
class Shapes:
    full: CNNConfig
    half: CNNConfig
    template: TemplateCNNConfig


def shapes(cfg: MixtureCompareConfig, data: ImageDataset) -> Shapes:
    io = dict(in_channels=data.image_shape[0], num_classes=data.num_classes)
    full = preset_config(cfg.shape, **io)
    template = preset_config(cfg.shape, template=True, templates=cfg.templates, **io)
    assert isinstance(template, TemplateCNNConfig)
    return Shapes(full, widened_config(full, 0.5), template)


def phase_plan(cfg: MixtureCompareConfig, data: ImageDataset, run: str
               ) -> tuple[float, list[tuple[int, int | None]]]:
    """(budget FLOPs, [(steps, member) per phase]) for one run: each phase gets its share
    of the budget divided by the FLOPs of one of its training steps."""
    s = shapes(cfg, data)
    x, y = data.batch("val", cfg.batch_size, generator=torch.Generator().manual_seed(0))
    with torch.device("meta"):  # shapes only: FlopCounterMode needs no real weights
        full, half = CNN(s.full), CNN(s.half)
        members, grown = (TemplateCNN(s.template),
                          TemplateCNN(dataclasses.replace(s.template, grown=True)))
    f_full, f_half = training_flops(full, x, y), training_flops(half, x, y)
    budget = cfg.epochs * data.size("train") * f_full / cfg.batch_size
    g = cfg.grow_fraction

    def steps(share: float, per_step: float) -> int:
        return max(1, round(share * budget / per_step))

    if run == "scratch":
        return budget, [(steps(1, f_full), None)]
    if run == "small":
        return budget, [(steps(1, f_half), None)]
    if run in BASELINES:
        return budget, [(steps(g, f_half), None), (steps(1 - g, f_full), None)]
    f_member, f_grown = training_flops(members, x, y, member=0), training_flops(grown, x, y)
    return budget, [(steps(g / 2, f_member), 0), (steps(g / 2, f_member), 1),
                    (steps(1 - g, f_grown), None)]


def train_config(cfg: MixtureCompareConfig, steps: int, evals: int, seed: int,
                 lr: float) -> TrainConfig:
    return TrainConfig(steps=steps, batch_size=cfg.batch_size, lr=lr, optimizer="sgd",
                       momentum=cfg.momentum, nesterov=True, weight_decay=cfg.weight_decay,
                       warmup=min(cfg.warmup, max(1, steps // 10)), min_lr_ratio=0.0,
                       grad_clip=0.0, eval_every=max(1, steps // max(1, evals)),
                       eval_batches=cfg.eval_batches, seed=seed)


def run_one(cfg: MixtureCompareConfig, run: str, seed: int, out_dir: Path | None = None,
            progress: bool | None = None) -> Record:
    """Train one run for one seed and measure its test accuracy."""
    data = load_images(cfg.data, augment=cfg.augment)
    s = shapes(cfg, data)
    budget, phases = phase_plan(cfg, data, run)
    total = sum(n for n, _ in phases)
    evals = [max(1, round(cfg.evals * n / total)) for n, _ in phases]
    lrs = [cfg.lr] * len(phases)
    if len(phases) > 1 and cfg.lr_after_growth is not None:
        lrs[-1] = cfg.lr_after_growth  # the grown net's phase
    configs = [train_config(cfg, n, e, seed, lr) for (n, _), e, lr in zip(phases, evals, lrs)]
    torch.manual_seed(seed)
    name = f"{run}-s{seed}"
    common = dict(name=name, out_dir=out_dir, progress=progress)
    if run.startswith("mixture-"):
        trainer = Trainer(TemplateCNN(s.template), data, configs[0], member=0, **common)
        trainer.fit()
        trainer.new_phase(configs[1], member=1)
        trainer.fit()
        trainer.grow("mixture", dim="width", coefs=run.removeprefix("mixture-"), seed=seed,
                     config=configs[2])
    elif run in BASELINES:
        trainer = Trainer(CNN(s.half), data, configs[0], **common)
        trainer.fit()
        options = {"noise": cfg.net2wider_noise} if run == "net2wider" else {}
        trainer.grow(run, dim="width", factor=2, seed=seed, config=configs[1], **options)
    else:
        trainer = Trainer(CNN(s.full if run == "scratch" else s.half), data, configs[0], **common)
    trainer.fit()
    rec = trainer.record
    rec.meta.update(run=run, budget_flops=budget, test_acc=accuracy(trainer.model, data, "test"),
                    compare=asdict(cfg))
    if out_dir is not None:
        rec.save(out_dir / f"{name}.json")
    return rec


def summarise(records: dict[str, dict[int, Record]]) -> dict[str, Any]:
    """Per run, over its seeds: test accuracy, FLOPs, and the FLOPs speedup over scratch of
    the same seed (validation loss, as for the GPT: C_scratch / C_run - 1 to reach
    scratch's final loss; None where the run never reached it)."""
    rows = []
    for run, by_seed in records.items():
        if not by_seed:
            continue
        accs = [r.meta["test_acc"] for r in by_seed.values()]
        any_rec = next(iter(by_seed.values()))
        found = [speedup(records["scratch"][s], r) for s, r in sorted(by_seed.items())
                 if s in records.get("scratch", {}) and run != "scratch"]
        rows.append({
            "speedup_flops": [sp.flops for sp in found],
            # Per seed: did the half-width phase alone reach scratch's loss (no growth speedup
            # then), and the speedup read off the grown net's own evaluations.
            "reached_before_growth": [sp.reached_before_growth for sp in found],
            "speedup_flops_after_growth": [sp.flops_after_growth for sp in found],
            "samples_per_param": statistics.fmean(r.final["samples"] / r.n_params for r in by_seed.values()),
            "run": run, "seeds": sorted(by_seed), "test_acc": accs,
            "test_acc_mean": statistics.fmean(accs),
            "test_acc_std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
            "flops": statistics.fmean(r.total_flops for r in by_seed.values()),
            "budget_flops": any_rec.meta["budget_flops"], "n_params": any_rec.n_params,
            "wall_s": statistics.fmean(r.final["wall_s"] for r in by_seed.values()),
        })
    return {"rows": rows}


def describe(cfg: MixtureCompareConfig, data: ImageDataset) -> str:
    """The comparison's setting in one paragraph: data, shapes, budget."""
    s = shapes(cfg, data)
    budget, _ = phase_plan(cfg, data, "scratch")
    return (f"{cfg.data}: {data.size('train'):,} training and {data.size('test'):,} test images. "
            f"Full-width net WRN-{s.full.depth}-{s.full.widen:g} ({CNN(s.full).n_params():,} params), "
            f"half-width net {CNN(s.half).n_params():,} params, two template members of half width "
            f"({cfg.templates} templates each). Budget {budget:.3g} FLOPs = {cfg.epochs:g} epochs of the "
            f"full-width net; growth after {cfg.grow_fraction:.0%} of it; seeds {cfg.seeds}.")


# The paper's claims (Pham et al. 2024, CIFAR-100, WRN-28-10 from WRN-28-5 members).
PAPER_MARGIN = (0.02, 0.025)  # top-1 over the best prior growth method


def verdict(summary: dict[str, Any]) -> dict[str, Any]:
    """What the table says about the paper's two claims: MixtureGrowth beats the other ways
    of widening (there by 2-2.5 points of top-1), and reaches a big net's accuracy with
    fewer FLOPs than training it from scratch. Means over the seeds run."""
    acc = {r["run"]: r["test_acc_mean"] for r in summary["rows"]}
    mixtures = {k: v for k, v in acc.items() if k.startswith("mixture-")}
    baselines = {k: v for k, v in acc.items() if k in BASELINES}
    out: dict[str, Any] = {"test_acc": acc}
    parts = []
    if "scratch" in acc and "small" in acc:
        out["target_beats_small"] = acc["scratch"] > acc["small"]
        parts.append(f"The full-width net from scratch {'beats' if out['target_beats_small'] else 'LOSES TO'} "
                     f"the half-width net alone on the same budget ({100 * acc['scratch']:.2f}% vs "
                     f"{100 * acc['small']:.2f}%).")
    if mixtures and baselines:
        best_m, best_b = max(mixtures, key=mixtures.get), max(baselines, key=baselines.get)
        margin = mixtures[best_m] - baselines[best_b]
        out.update(best_mixture=best_m, best_baseline=best_b, margin_over_baselines=margin)
        parts.append(f"Best MixtureGrowth variant {best_m} {100 * mixtures[best_m]:.2f}% vs best baseline "
                     f"{best_b} {100 * baselines[best_b]:.2f}%: {100 * margin:+.2f} points (the paper: "
                     f"+{100 * PAPER_MARGIN[0]:g} to +{100 * PAPER_MARGIN[1]:g} on CIFAR-100).")
        if "scratch" in acc:
            out["mixture_vs_scratch"] = mixtures[best_m] - acc["scratch"]
            parts.append(f"Against scratch on the same FLOPs: {100 * out['mixture_vs_scratch']:+.2f} points.")
    out["text"] = " ".join(parts)
    return out


def format_table(summary: dict[str, Any]) -> str:
    lines = [f"{'run':<20} {'test acc (mean +- std)':>23} {'seeds':>6} {'FLOPs':>10} "
             f"{'/budget':>8} {'params':>9} {'img/param':>9} {'wall s':>7}  speedup per seed"]
    for r in summary["rows"]:
        lines.append(f"{r['run']:<20} {100 * r['test_acc_mean']:>14.2f} +- {100 * r['test_acc_std']:4.2f}"
                     f" {len(r['seeds']):>6} {r['flops']:>10.3g} {r['flops'] / r['budget_flops']:>8.3f}"
                     f" {r['n_params']:>9,} {r['samples_per_param']:>9.1f} {r['wall_s']:>7.0f}  "
                     + speedup_cell(r))
    lines.append("Top-1 accuracy (%) on the whole test split; FLOPs counted by FlopCounterMode "
                 "over every phase (members and small net included); img/param: training images "
                 "seen per final-model parameter; speedup: C_scratch / C_run - 1 in FLOPs to reach "
                 "scratch's final validation loss, per seed ('never': not reached); *: reached "
                 "before growth, by the half-width phase alone, so the speedup after growth (the "
                 "grown net's own evaluations) follows.")
    return "\n".join(lines)


def speedup_cell(row: dict[str, Any]) -> str:
    """Per-seed speedups; where the half-width phase alone reached the target, marked and
    followed by the speedup the grown net earned on its own evaluations."""
    early = row["reached_before_growth"]
    cell = " ".join(pct(x, 0, e) for x, e in zip(row["speedup_flops"], early))
    if any(early):
        cell += "  after growth: " + " ".join(pct(x) for x in row["speedup_flops_after_growth"])
    return cell


# Settings that may differ between calls sharing one folder: which runs and seeds to add.
SELECTION = ("runs", "seeds")


def check_folder(cfg: MixtureCompareConfig, out: Path) -> None:
    """A folder holds the runs of one configuration: reusing its finished runs under other
    settings would mix budgets, so that is an error that names the difference."""
    path = out / "config.json"
    if not path.exists():
        return
    old = {k: v for k, v in json.loads(path.read_text()).items() if k not in SELECTION}
    new = {k: v for k, v in json.loads(json.dumps(asdict(cfg))).items() if k not in SELECTION}
    diff = [f"{k}: {old.get(k)!r} there, {new.get(k)!r} now" for k in sorted(set(old) | set(new))
            if old.get(k) != new.get(k)]
    if diff:
        raise ValueError(f"{out} holds runs of another configuration ({'; '.join(diff)}): pass another "
                         "out folder (e.g. folder_for(cfg)) or delete that one to retrain.")


def folder_for(cfg: MixtureCompareConfig, root: str | Path = "runs") -> Path:
    """A folder named by the configuration (not its runs or seeds): notebooks share it."""
    settings = {k: v for k, v in asdict(cfg).items() if k not in SELECTION}
    key = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    return Path(root) / f"mixture-{cfg.data}-{key}"


def load_records(out_dir: str | Path) -> dict[str, dict[int, Record]]:
    """Every finished run recorded in out_dir/records, by run name and seed."""
    records: dict[str, dict[int, Record]] = {r: {} for r in RUNS}
    for path in sorted((Path(out_dir) / "records").glob("*.json")):
        rec = Record.load(path)
        if "test_acc" in rec.meta and rec.meta["run"] in records:
            records[rec.meta["run"]][int(rec.meta["seed"])] = rec
    return records


def compare(cfg: MixtureCompareConfig, out_dir: str | Path, progress: bool | None = None
            ) -> dict[str, Any]:
    """Every run for every seed (skipping those already recorded in out_dir), then the
    summary of everything recorded there: records/, summary.json, summary.txt."""
    out = Path(out_dir)
    check_folder(cfg, out)
    (out / "records").mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.json", json.dumps(asdict(cfg), indent=1))
    for seed in cfg.seeds:
        for run in cfg.runs:
            path = out / "records" / f"{run}-s{seed}.json"
            if path.exists() and "test_acc" in Record.load(path).meta:
                continue  # finished earlier
            run_one(cfg, run, seed, out / "records", progress)
    summary = summarise(load_records(out))
    summary["table"] = format_table(summary)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=1))
    atomic_write_text(out / "summary.txt", summary["table"] + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m growkit.mixture_compare",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--runs", nargs="+", default=None, choices=RUNS)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a MixtureCompareConfig field (value parsed as JSON)")
    parser.add_argument("--out", default="runs/mixture")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    for item in args.set:
        key, _, raw = item.partition("=")
        if key not in {f.name for f in dataclasses.fields(MixtureCompareConfig)}:
            parser.error(f"unknown setting {key!r}")
        try:
            overrides[key] = json.loads(raw)
        except json.JSONDecodeError:
            overrides[key] = raw
    if args.seeds is not None:
        overrides["seeds"] = args.seeds
    if args.runs is not None:
        overrides["runs"] = args.runs
    t0 = time.perf_counter()
    summary = compare(preset(args.preset, **overrides), args.out, progress=args.progress)
    print(summary["table"])
    print(f"\nwall time {time.perf_counter() - t0:.0f} s; records and summary in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
