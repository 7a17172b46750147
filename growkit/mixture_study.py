"""MixtureGrowth against the other ways of widening a CNN, on one FLOPs budget.

The CNN experiment differs from the GPT's (growkit/study.py) in its budget unit (epochs of
the full-width net), its phases (two template members before growth) and its metric (test
accuracy), so it has its own plan; it shares the run folders (growkit/runs.py), the tables
and the command line. Every run spends the same training FLOPs C (counted by
FlopCounterMode) and ends at the full width, except `small`:

    scratch              the full-width CNN from random initialisation, all of C
    small                the half-width CNN alone, all of C (growth must beat this too)
    mixture-<coefs>      a TemplateCNN's two half-width members, grow_fraction/2 of C each,
                         grown by MixtureGrowth (coefs: orthogonal, zero, copy, random),
                         then the grown net for the rest
    random/zero/net2wider  the half-width CNN for grow_fraction of C, widened 2x by that
                         operator, then the full-width CNN for the rest

Each reports top-1 accuracy on the data set's whole test split. Finished runs are cached
(growkit.runs.RunCache) and an interrupted run continues from its last resumable
checkpoint, so an interrupted study resumes; seeds can run in parallel processes sharing one
folder (a lock per run; the summary covers every seed finished there):

    python -m growkit mixture --preset cpu --seeds 0 1 2 --out runs/mixture
    python -m growkit mixture --preset cpu --seeds 1 --out runs/mixture &  # a 2nd core
    python -m growkit mixture --preset smoke --out /tmp/mx     # seconds, digits
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from . import distributed
from .cnn import CNN, CNNConfig, TemplateCNN, TemplateCNNConfig, preset_config
from .cnn import PRESETS as CNN_SHAPES
from .device import auto_device, choose
from .grow.cnn_width import widened_config
from .grow.mixture import COEF_VARIANTS
from .images import ImageDataset, load_images
from .limits import check_cnn_study
from .record import Record
from .runs import Job, RunCache, RunOptions, run_jobs, run_spec, seeds_in, share_start, shared_start
from .settings import SettingError, at_least, check_types, positive, within
from .speedup import pct, speedup, text_table
from .train import TrainConfig, Trainer, accuracy, seeded, training_flops

BASELINES = ("random", "zero", "net2wider")
RUNS = ("scratch", "small", *(f"mixture-{c}" for c in COEF_VARIANTS), *BASELINES)


@dataclass
class MixtureConfig:
    data: str = "fashion-mnist"
    shape: str = "wrn-10-1"  # a growkit.cnn shape: the full-width net
    templates: int = 2  # per member (the official default)
    epochs: float = 2.0  # the FLOPs budget, in epochs of the full-width net
    grow_fraction: float = 0.5  # share of the budget spent before growth
    batch_size: int = 128
    # The paper's recipe: SGD, momentum 0.9, Nesterov, weight decay 5e-4, lr 0.1, cosine.
    lr: float = 0.1
    lr_after_growth: float | None = None  # None: lr again; the official recipe uses lr / 100
    weight_decay: float = 5e-4
    momentum: float = 0.9
    warmup: int = 20  # steps of linear warmup at the start of every phase
    augment: bool | None = None  # None: the data set's default (crop and flip for CIFAR)
    # The first N images of the training split (None: all). Few images and many epochs on one
    # budget is the paper's regime (200 CIFAR epochs): there width, not images seen, decides.
    train_images: int | None = None
    net2wider_noise: float = 0.0  # 0: exact copies, as the official baseline
    evals: int = 10  # evaluations per run, spread over its phases
    eval_batches: int = 8

    def __post_init__(self) -> None:
        check_types(self)
        if self.shape not in CNN_SHAPES:
            raise SettingError(f"MixtureConfig.shape must be one of {', '.join(CNN_SHAPES)}, got "
                               f"{self.shape!r}: e.g. shape='wrn-10-1'.")
        at_least(self, 1, "templates", "batch_size", "evals", "eval_batches", "train_images")
        at_least(self, 0, "weight_decay", "warmup", "net2wider_noise")
        positive(self, "epochs", fix=2.0)
        positive(self, "lr", "lr_after_growth", fix=0.1)
        within(self, "momentum", 0, 1, 0.9, open_hi=True)
        within(self, "grow_fraction", 0, 1, 0.5, open_lo=True, open_hi=True)
        check_cnn_study(self)  # a grown net this machine can hold (growkit.limits)

    def settings(self) -> dict[str, Any]:
        """Every field, as a run's spec and record keep it (train_images only where set, so
        the runs cached before it existed keep their names)."""
        fields = asdict(self)
        if fields["train_images"] is None:
            del fields["train_images"]
        return fields


def check_runs(runs: list[str]) -> None:
    unknown = sorted(set(runs) - set(RUNS))
    if unknown or not runs:
        raise SettingError(f"unknown runs {unknown or runs}; known: {list(RUNS)}: e.g. "
                           "runs=['scratch', 'small'] (--runs scratch small on the command line).")


# The same names as the GPT study's presets, each meaning one thing.
PRESETS: dict[str, dict[str, Any]] = {
    # Seconds: the digits set and the smallest shape, for tests. Too small to mean anything.
    "smoke": dict(data="digits", epochs=2.0, batch_size=32, warmup=2, evals=2, eval_batches=2),
    # A CPU: fashion-mnist, WRN-10-1 (about 50 MFLOP per training image at full width), on
    # its first 5,400 training images for 20 epochs of the full-width net: the FLOPs of 2
    # epochs of the whole split, about 30 minutes for all nine runs of a seed on one core. On
    # the whole split for 2 epochs the half-width net alone wins (it sees 4x the images); on
    # few images for many epochs the full-width net does, as in the paper (README, Regimes).
    "cpu": dict(train_images=5400, epochs=20.0),
    # One GPU: CIFAR-10, a WRN-16-4 grown from two WRN-16-2-width members, 10 epochs of
    # budget. Sized by arithmetic, not yet timed on a GPU.
    "gpu": dict(data="cifar10", shape="wrn-16-4", epochs=10.0, warmup=100, evals=20, eval_batches=10),
    # Colab's T4: the gpu preset on half its budget.
    "t4": dict(data="cifar10", shape="wrn-16-4", epochs=5.0, warmup=100, evals=20, eval_batches=10),
    # The paper's CIFAR-100 setting on one GPU: WRN-28-10 grown from two WRN-28-5-width
    # members; members 50 epochs each, grown net 150 (budget 200 full-width epochs). Hours.
    "paper": dict(data="cifar100", shape="wrn-28-10", epochs=200.0, grow_fraction=0.25,
                  warmup=400, evals=40, eval_batches=20),
}


def load_data(cfg: MixtureConfig) -> ImageDataset:
    """cfg's image data set: its augmentation, and its first cfg.train_images training images."""
    data = load_images(cfg.data, augment=cfg.augment)
    if cfg.train_images is None:
        return data
    images, labels = data.splits["train"]
    if cfg.train_images > len(labels):
        raise SettingError(f"train_images={cfg.train_images} but {cfg.data}'s training split has "
                           f"{len(labels):,} images: e.g. train_images={len(labels) // 10} (or None: all).")
    n = cfg.train_images
    # The normalisation statistics stay the whole split's: a subset changes the data, not its units.
    return dataclasses.replace(data, splits={**data.splits, "train": (images[:n], labels[:n])})


def preset(name: str = "auto", **overrides: Any) -> MixtureConfig:
    """The named preset ('auto': gpu, t4 or cpu from the hardware) with `overrides`."""
    if name != "auto" and name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known: {sorted(PRESETS)} or 'auto'.")
    chosen = choose().preset if name == "auto" else name  # compute capability decides
    return MixtureConfig(**{**PRESETS[chosen], **overrides})


@dataclass
class Shapes:
    full: CNNConfig
    half: CNNConfig
    template: TemplateCNNConfig


def shapes(cfg: MixtureConfig, data: ImageDataset) -> Shapes:
    io = dict(in_channels=data.image_shape[0], num_classes=data.num_classes)
    full = preset_config(cfg.shape, **io)
    template = preset_config(cfg.shape, template=True, templates=cfg.templates, **io)
    assert isinstance(template, TemplateCNNConfig)
    return Shapes(full, widened_config(full, 0.5), template)


def phase_plan(cfg: MixtureConfig, data: ImageDataset, run: str
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


def family_of(run: str) -> str | None:
    """Runs that begin alike: 'mixture' (the same two members, whatever the coefficients),
    'widen' (the same half-width net, whatever the widening); None for the runs alone."""
    return "mixture" if run.startswith("mixture-") else "widen" if run in BASELINES else None


def train_config(cfg: MixtureConfig, steps: int, evals: int, seed: int, lr: float) -> TrainConfig:
    return TrainConfig(steps=steps, batch_size=cfg.batch_size, lr=lr, optimizer="sgd",
                       momentum=cfg.momentum, nesterov=True, weight_decay=cfg.weight_decay,
                       warmup=min(cfg.warmup, max(1, steps // 10)), min_lr_ratio=0.0,
                       grad_clip=0.0, eval_every=max(1, steps // max(1, evals)),
                       eval_batches=cfg.eval_batches, seed=seed)


def phase_configs(cfg: MixtureConfig, data: ImageDataset, run: str, seed: int
                  ) -> tuple[float, list[tuple[TrainConfig, int | None]]]:
    """(budget FLOPs, [(TrainConfig, member) per phase]) for one run and seed: the phases'
    evaluations spread by their share of steps, the grown net's phase at lr_after_growth."""
    budget, phases = phase_plan(cfg, data, run)
    total = sum(n for n, _ in phases)
    evals = [max(1, round(cfg.evals * n / total)) for n, _ in phases]
    lrs = [cfg.lr] * len(phases)
    if len(phases) > 1 and cfg.lr_after_growth is not None:
        lrs[-1] = cfg.lr_after_growth  # the grown net's phase
    return budget, [(train_config(cfg, n, e, seed, lr), member)
                    for (n, member), e, lr in zip(phases, evals, lrs)]


def train_run(cfg: MixtureConfig, run: str, seed: int, data: ImageDataset, *,
              out_dir: Path | None = None, stem: str | None = None,
              options: RunOptions | None = None) -> Record:
    """Train one run for one seed and measure its test accuracy (`options`: its progress
    line and checkpoints; growkit.runs.RunOptions)."""
    options = options or RunOptions()
    s = shapes(cfg, data)
    budget, phases = phase_configs(cfg, data, run, seed)
    configs = [c for c, _ in phases]
    family = family_of(run)
    # The phases before growth are the family's, the same for each of its runs: the first to
    # train them leaves their end state for the others (growkit.runs.shared_start).
    start = None if family is None else shared_start(
        out_dir, family=family, study=cfg.settings(), seed=seed, device=auto_device().type,
        phases=[asdict(c) for c in configs[:-1]])
    common = dict(name=f"{run}-s{seed}", out_dir=out_dir, progress=options.progress,
                  checkpointing=options.checkpointing(stem, start_from=start))  # type: ignore[arg-type]
    if family == "mixture":
        trainer = Trainer(seeded(seed, lambda: TemplateCNN(s.template)), data, configs[0], member=0,
                          **common)
        trainer.fit()
        trainer.new_phase(configs[1], member=1)
        trainer.fit()
        share_start(trainer, start, last_phase=1)
        trainer.grow("mixture", dim="width", coefs=run.removeprefix("mixture-"), seed=seed,
                     config=configs[2])
    elif family == "widen":
        trainer = Trainer(seeded(seed, lambda: CNN(s.half)), data, configs[0], **common)
        trainer.fit()
        share_start(trainer, start, last_phase=0)
        grow_options = {"noise": cfg.net2wider_noise} if run == "net2wider" else {}
        trainer.grow(run, dim="width", factor=2, seed=seed, config=configs[1], **grow_options)
    else:
        shape = s.full if run == "scratch" else s.half
        trainer = Trainer(seeded(seed, lambda: CNN(shape)), data, configs[0], **common)
    trainer.fit()
    rec = trainer.record
    rec.meta.update(run=run, budget_flops=budget, test_acc=accuracy(trainer.model, data, "test"),
                    study=cfg.settings())
    return rec


def spec_of(cfg: MixtureConfig, run: str, seed: int) -> dict[str, Any]:
    """The run's name in the cache: every setting, the run and the seed."""
    return run_spec(kind="mixture", **cfg.settings(), run=run, seed=seed)


def train_job(cfg: MixtureConfig, run: str, seed: int, options: RunOptions) -> None:
    """One run into options.cache_dir (what a worker process does with a Job)."""
    data = load_data(cfg)
    RunCache(options.cache_dir, prune=options.prune).get(
        spec_of(cfg, run, seed), f"{run}-s{seed}",
        lambda out, stem: train_run(cfg, run, seed, data, out_dir=out, stem=stem, options=options))


def jobs(cfg: MixtureConfig, options: RunOptions, runs: list[str]) -> list[Job]:
    """The runs not yet in options.cache_dir, as growkit.runs.run_jobs takes them: one run of
    each family first, so that its siblings, handed out later, find its beginning."""
    child = dataclasses.replace(options, workers=1, progress=False)
    todo = RunCache(options.cache_dir).untrained(
        Job(spec_of(cfg, r, s), f"{r}-s{s}", train_job, (cfg, r, s, child))
        for s in options.seeds for r in runs)
    firsts: dict[tuple[str | None, int], Job] = {}
    for job in todo:
        _, run, seed, _ = job.args
        firsts.setdefault((family_of(run), seed), job)
    leaders = [job for (family, _), job in firsts.items() if family is not None]
    return leaders + [job for job in todo if job not in leaders]


def train(cfg: MixtureConfig, options: RunOptions, runs: list[str] | None = None
          ) -> dict[str, dict[int, Record]]:
    """Every run of `runs` (None: all) for every seed of options.seeds, by run and seed
    (those already finished in options.cache_dir are read, not trained). With
    options.workers > 1 (or "auto": one per core on a CPU) the runs train first in that many
    processes at one thread each, into the cache folder."""
    runs = list(RUNS if runs is None else runs)
    check_runs(runs)
    count = options.processes()
    if count != 1:
        run_jobs(jobs(cfg, options, runs), count, options.show_progress())
    cache = RunCache(options.cache_dir, prune=options.prune)
    data = load_data(cfg)
    records: dict[str, dict[int, Record]] = {r: {} for r in runs}
    for seed in options.seeds:
        for name in runs:
            records[name][seed] = cache.get(
                spec_of(cfg, name, seed), f"{name}-s{seed}",
                lambda out, stem, name=name, seed=seed: train_run(cfg, name, seed, data, out_dir=out,
                                                                  stem=stem, options=options))
    return records


def run(cfg: MixtureConfig, options: RunOptions | None = None, runs: list[str] | None = None, *,
        readonly: bool = False) -> dict[str, Any]:
    """`train`, then the summary: config, rows, table and the records, of options.seeds and
    of every other seed already finished in the cache folder with these settings.
    `readonly`: trains nothing, summarises the finished runs (the CLI's second step)."""
    options = options or RunOptions()
    runs = list(RUNS if runs is None else runs)
    records = (load_records(cfg, options.cache_dir, options.seeds, runs) if readonly
               else train(cfg, options, runs))
    # Seeds other processes finished into the same folder with the same settings join the
    # summary (read, never trained here). (Rank 0's list under torchrun: every rank must ask
    # the cache for the same runs.)
    others = distributed.broadcast(seeds_in(options.cache_dir, cfg.settings()))
    found = load_records(cfg, options.cache_dir, sorted(set(others) - set(options.seeds)), runs)
    for name, by_seed in found.items():
        records[name].update(by_seed)
    records = {name: dict(sorted(by_seed.items())) for name, by_seed in records.items()}
    summary = {"config": asdict(cfg), **summarise(records)}
    summary["table"] = format_table(summary)
    summary["records"] = records
    return summary


def load_records(cfg: MixtureConfig, cache_dir: str | Path | None, seeds: list[int],
                 runs: list[str] | None = None) -> dict[str, dict[int, Record]]:
    """The finished runs of cfg (of `runs`, None: all, for `seeds`) in cache_dir, by run and
    seed; trains nothing."""
    cache = RunCache(cache_dir)
    found = {name: {s: cache.find(spec_of(cfg, name, s)) for s in seeds} for name in runs or RUNS}
    return {name: {s: r for s, r in by_seed.items() if r is not None} for name, by_seed in found.items()}


def summarise(records: dict[str, dict[int, Record]]) -> dict[str, Any]:
    """Per run, over its seeds: test accuracy, FLOPs, and the FLOPs speedup over scratch of
    the same seed (validation loss, as for the GPT: C_scratch / C_run - 1 to reach
    scratch's final loss; None where the run never reached it)."""
    rows = []
    for name, by_seed in records.items():
        if not by_seed:
            continue
        accs = [r.meta["test_acc"] for r in by_seed.values()]
        any_rec = next(iter(by_seed.values()))
        found = [speedup(records["scratch"][s], r) for s, r in sorted(by_seed.items())
                 if s in records.get("scratch", {}) and name != "scratch"]
        rows.append({
            "speedup_flops": [sp.flops for sp in found],
            # Per seed: did the half-width phase alone reach scratch's loss (no growth speedup
            # then), and the speedup read off the grown net's own evaluations.
            "reached_before_growth": [sp.reached_before_growth for sp in found],
            "speedup_flops_after_growth": [sp.flops_after_growth for sp in found],
            "samples_per_param": statistics.fmean(r.final["samples"] / r.n_params for r in by_seed.values()),
            "run": name, "seeds": sorted(by_seed), "test_acc": accs,
            "test_acc_mean": statistics.fmean(accs),
            "test_acc_std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
            "flops": statistics.fmean(r.total_flops for r in by_seed.values()),
            "budget_flops": any_rec.meta["budget_flops"], "n_params": any_rec.n_params,
            "wall_s": statistics.fmean(r.final["wall_s"] for r in by_seed.values()),
        })
    return {"rows": rows}


def describe(cfg: MixtureConfig, data: ImageDataset, seeds: list[int] | None = None) -> str:
    """The comparison's setting in one paragraph: data, shapes, budget."""
    s = shapes(cfg, data)
    budget, _ = phase_plan(cfg, data, "scratch")
    with torch.device("meta"):
        full, half = CNN(s.full).n_params(), CNN(s.half).n_params()
    return (f"{cfg.data}: {data.size('train'):,} training and {data.size('test'):,} test images. "
            f"Full-width net WRN-{s.full.depth}-{s.full.widen:g} ({full:,} params), "
            f"half-width net {half:,} params, two template members of half width "
            f"({cfg.templates} templates each). Budget {budget:.3g} FLOPs = {cfg.epochs:g} epochs of the "
            f"full-width net; growth after {cfg.grow_fraction:.0%} of it; seeds {seeds or [0]}.")


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
        parts.append(f"The full-width net from scratch {'beats' if out['target_beats_small'] else 'loses to'} "
                     f"the half-width net alone on the same budget ({100 * acc['scratch']:.2f}% vs "
                     f"{100 * acc['small']:.2f}%).")
    if mixtures and baselines:
        best_m, best_b = max(mixtures, key=mixtures.__getitem__), max(baselines, key=baselines.__getitem__)
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
    body = [[r["run"], f"{100 * r['test_acc_mean']:.2f} ± {100 * r['test_acc_std']:.2f}", len(r["seeds"]),
             f"{r['flops']:.3g}", f"{r['flops'] / r['budget_flops']:.3f}", f"{r['n_params']:,}",
             f"{r['samples_per_param']:.1f}", f"{r['wall_s']:.0f}", speedup_cell(r)]
            for r in summary["rows"]]
    head = ["run", "test acc (mean ± std)", "seeds", "FLOPs", "/budget", "params", "img/param", "wall s",
            "speedup per seed"]
    return text_table(head, body) + (
        "\nTop-1 accuracy (%) on the whole test split; FLOPs counted by FlopCounterMode over every "
        "phase (members and small net included); img/param: training images seen per final-model "
        "parameter; speedup: C_scratch / C_run - 1 in FLOPs to reach scratch's final validation "
        "loss, per seed ('never': not reached); *: reached before growth, by the half-width phase "
        "alone, so the speedup after growth (the grown net's own evaluations) follows.")


def speedup_cell(row: dict[str, Any]) -> str:
    """Per-seed speedups; where the half-width phase alone reached the target, marked and
    followed by the speedup the grown net earned on its own evaluations."""
    early = row["reached_before_growth"]
    cell = " ".join(pct(x, 0, e) for x, e in zip(row["speedup_flops"], early))
    if any(early):
        cell += "  after growth: " + " ".join(pct(x) for x in row["speedup_flops_after_growth"])
    return cell
