"""Growing more than once: a schedule of growth events on one FLOPs budget.

The course's grown run grows once (train small, grow, train on). Staged training, gradual
stacking (MIDAS; the `gradual_stack` of the G_stack code) and progressive BERT growth grow
in several steps. A `Schedule` is a list of `Stage`s, each a growth event: the operator,
its direction and factor, and the point, as the share of the FLOPs budget spent before it:

    two = Schedule([Stage(0.05, factor=2), Stage(0.20, factor=2)])      # 1 -> 2 -> 4 blocks
    gradual = gradual_stack(1, 4, points=[0.05, 0.10, 0.20])            # 1 -> 2 -> 3 -> 4
    Variant("stack", "depth", 4, schedule=two)    # in a Study (growkit/study.py)

One Trainer trains every phase, so one ledger counts every FLOP and every growth is an event
in `record.events` (plots.plot_curves marks each); the Trainer resumes at any phase, since each
growth call is recorded and replayed. Each phase gets the budget's share between two points:
phase i runs (point_i - point_{i-1}) * C / (FLOPs of one of its steps) steps, the last phase
the rest of the budget.

The optimizer across growth (Trainer.grow's `fresh_optimizer`): False carries AdamW's moments
of every parameter copied whole from the model before. G_stack copies every block, so every
grown block starts with the moments of the block it copies (duplicated); G_zero and G_random
keep the small blocks, whose moments carry, and their new blocks start from zero moments,
which Adam's bias correction treats as a first step (a full-sized update for those only).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .gpt import GPTConfig
from .grow import resolve
from .grow.width import widened_config
from .record import Record
from .runs import Job, RunCache, run_jobs
from .speedup import speedup
from .train import TrainConfig, Trainer


@dataclass
class Stage:
    """One growth event of a schedule: grow with `op` in `dim` by `factor` once `at` (a
    share of the FLOPs budget, counted from the start of the run) has been spent.
    `options` go to the operator, e.g. {"layers": [0, 1, 1]} for G_stack with an explicit
    block order (its factor is then ignored: the grown depth is len(layers))."""

    at: float
    op: str = "stack"
    dim: str = "depth"
    factor: float = 2
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.at, bool) or not isinstance(self.at, (int, float)) or not 0 < self.at < 1:
            raise ValueError(f"Stage.at is the share of the FLOPs budget spent before this growth, "
                             f"in (0, 1); got {self.at!r}: e.g. Stage(0.05, 'stack', factor=2).")
        operator = resolve(self.op, self.dim)  # an unknown operator is named now, not mid-run
        if operator.needs_data:
            raise ValueError(f"{operator.label} ({self.op!r}) trains on data of its own, which a "
                             "schedule does not budget yet: grow with it in a one-stage "
                             f"Variant({self.op!r}, {self.dim!r}, ...) instead.")

    def grown(self, cfg: GPTConfig) -> GPTConfig:
        """The model this stage grows `cfg` into (its shape only)."""
        if self.dim == "width":
            return widened_config(cfg, self.factor)
        layers = self.options.get("layers")
        depth = len(layers) if layers is not None else cfg.n_layer * int(self.factor)
        return dataclasses.replace(cfg, n_layer=depth)

    @property
    def words(self) -> str:
        layers = self.options.get("layers")
        if layers is not None:
            return f"layers {list(layers)} @{self.at:.3g}"
        arrow = "↑" if self.dim == "depth" else "→"
        return f"{self.op}{arrow}×{self.factor:g} @{self.at:.3g}"


@dataclass
class Schedule:
    """Growth events in the order they happen (their points strictly increasing), and a
    name for tables and figures (None: written from the stages)."""

    stages: list[Stage]
    label: str | None = None

    def __post_init__(self) -> None:
        self.stages = [s if isinstance(s, Stage) else Stage(**s) for s in self.stages]
        points = [s.at for s in self.stages]
        if not points or any(b <= a for a, b in zip(points, points[1:])):
            raise ValueError(f"a schedule needs at least one stage, their points strictly "
                             f"increasing; got points {points}: e.g. Schedule([Stage(0.05), "
                             "Stage(0.2)]).")

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        return " → ".join(f"{s.op}×{s.factor:g}" if "layers" not in s.options else
                          f"{len(s.options['layers'])}L" for s in self.stages) + " @" + "/".join(
            f"{s.at:.0%}" for s in self.stages)

    @property
    def first(self) -> float:
        """The share of the budget before the first growth (a Row's grow_fraction)."""
        return self.stages[0].at

    def models(self, first: GPTConfig) -> list[GPTConfig]:
        """The model of every phase, the first one `first`."""
        out = [first]
        for stage in self.stages:
            out.append(stage.grown(out[-1]))
        return out

    def shares(self) -> list[float]:
        """The share of the FLOPs budget each phase gets: up to the first point, between
        points, after the last."""
        points = [0.0, *(s.at for s in self.stages), 1.0]
        return [b - a for a, b in zip(points, points[1:])]

    def spec(self) -> list[dict[str, Any]]:
        """The stages as data (part of a run's cache key)."""
        return [dataclasses.asdict(s) for s in self.stages]


def gradual_stack(start: int, target: int, points: Sequence[float], top: int = 1,
                  label: str | None = None) -> Schedule:
    """Gradual stacking (MIDAS, the G_stack code's `gradual_stack`): from `start` blocks to
    `target`, at each point copy the top `top` blocks onto the top of the stack, so every
    stage adds `top` blocks: (target - start) / top stages, one per point."""
    stages_needed = (target - start) / top if top > 0 else math.inf
    if start < 1 or top < 1 or stages_needed != int(stages_needed) or stages_needed != len(points):
        raise ValueError(
            f"gradual_stack({start}, {target}, top={top}) adds {top} block(s) per stage, so it needs "
            f"(target - start) / top stages with start >= 1 and top >= 1; got {len(points)} point(s): "
            f"e.g. gradual_stack(1, 4, points=[0.05, 0.1, 0.2]).")
    stages, depth = [], start
    for at in points:
        # With an explicit block order G_stack ignores its factor; 1 so no event reads "×2".
        layers = list(range(depth)) + list(range(depth - top, depth))
        stages.append(Stage(at, "stack", "depth", 1, {"layers": layers}))
        depth += top
    name = label or (f"gradual top-{top} " + "→".join(str(start + i * top) for i in range(len(points) + 1))
                     + " @" + "/".join(f"{p:.0%}" for p in points))
    return Schedule(stages, name)


def phase_steps(shares: Sequence[float], flops_per_step: Sequence[float], budget: float) -> list[int]:
    """Steps of each phase: its share of the budget over the FLOPs of one of its steps (at
    least 1). For one growth this is the one-stage plan's arithmetic exactly."""
    return [max(1, round(share * budget / fps)) for share, fps in zip(shares, flops_per_step)]


def phase_evals(steps: Sequence[int], evals: int) -> list[int]:
    """Evaluations of each phase, spread by its share of the steps (at least 1 each)."""
    total = sum(steps)
    return [max(1, round(evals * s / total)) for s in steps]


def continued(configs: list[TrainConfig]) -> list[TrainConfig]:
    """One warmup and cosine across all phases (the "naive" continued schedule), at the first
    phase's rate: each phase enters it where the previous one left."""
    total = sum(c.steps for c in configs)
    out, offset = [], 0
    for c in configs:
        out.append(dataclasses.replace(c, lr=configs[0].lr, warmup=configs[0].warmup,
                                       schedule_offset=offset, schedule_steps=total))
        offset += c.steps
    return out


def train_stages(trainer: Trainer, schedule: Schedule, configs: Sequence[TrainConfig], *,
                 fresh_optimizer: bool, fit: Callable[[Trainer], None]) -> None:
    """Train the first phase (the trainer's own config), then grow at each stage and train
    the next phase with its config: `configs` has one per phase, the first the trainer's.
    A resumed trainer skips the calls it has done already (growkit.resume)."""
    if len(configs) != len(schedule.stages) + 1:
        raise ValueError(f"{len(schedule.stages)} stage(s) need {len(schedule.stages) + 1} phase "
                         f"configs, got {len(configs)}.")
    fit(trainer)
    for stage, config in zip(schedule.stages, configs[1:]):
        trainer.grow(stage.op, dim=stage.dim, factor=stage.factor, config=config,
                     fresh_optimizer=fresh_optimizer, **stage.options)
        fit(trainer)


def flops_ratio(reference: Record, run: Record) -> float | None:
    """`run`'s FLOPs speedup over `reference` (e.g. over one-stage G_stack rather than
    scratch): where it reaches the reference's final loss, the reference's FLOPs to get there
    over the run's, minus 1; where it does not, the other way round (the run's own final loss,
    which the reference reaches sooner), as a negative number: 1 / (1 + that speedup) - 1.
    None when neither reaches the other's final loss."""
    ahead = speedup(reference, run).flops
    if ahead is not None:
        return ahead
    behind = speedup(run, reference).flops
    return None if behind is None else 1 / (1 + behind) - 1


def train_together(pairs: Sequence[tuple[Any, Sequence[Any]]], workers: int | str | None = None) -> None:
    """Train several studies' variants at once: `pairs` of (growkit.study.Study, its
    variants), e.g. the default study's schedules beside a carried-moments study's one-stage
    run. With more than one worker every run goes to one pool of one-thread processes (a
    run two studies share, such as scratch, trains once); then each study reads its runs.
    growkit.study.train_runs does the same for one list of variants."""
    first = pairs[0][0]
    count = first.options.processes(workers)
    if count != 1:
        jobs: dict[str, Job] = {}
        for study, variants in pairs:
            for job in study.jobs(variants):
                jobs.setdefault(RunCache.key(job.spec), job)
        run_jobs(RunCache(first.options.cache_dir).untrained(list(jobs.values())), count,
                 first.options.show_progress())
    for study, variants in pairs:
        for variant in variants:
            study.add(variant)


# ---- the schedules and optimizer settings notebook 08 compares (1 -> 4 blocks) -----------------
# Growing twice: stack the 1-block model to 2 blocks at 5% of the budget (one-stage G_stack's
# point), then the 2-block model to 4 at 20%; gradual stacking adds the top block at 5, 10 and
# 20%. Both reach the target's depth after the same first 5% as one-stage G_stack ×4 @5%.
TWO_STAGE = Schedule([Stage(0.05, "stack", "depth", 2), Stage(0.20, "stack", "depth", 2)],
                     "stack ×2 → ×2 @5%/20%")
GRADUAL = gradual_stack(1, 4, [0.05, 0.10, 0.20])
# StudyConfig overrides: AdamW's moments across growth (fresh: the paper's and the course's
# default) and the re-warmup after growth (the course's 20 steps, or none).
OPTIMIZER_SETTINGS: dict[str, dict[str, Any]] = {
    "fresh, re-warmup": {},
    "carried, re-warmup": {"fresh_optimizer": False},
    "fresh, no re-warmup": {"warmup_after_growth": 0},
    "carried, no re-warmup": {"fresh_optimizer": False, "warmup_after_growth": 0},
}


def optimizer_settings(names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The OPTIMIZER_SETTINGS named in `names`, in that order (notebook 08's OPTIMIZER_RUNS)."""
    unknown = [name for name in names if name not in OPTIMIZER_SETTINGS]
    if unknown or not names:
        raise ValueError(f"OPTIMIZER_RUNS = {list(names)!r}: {unknown or 'empty'}; choose from "
                         f"{list(OPTIMIZER_SETTINGS)}, e.g. OPTIMIZER_RUNS = {list(OPTIMIZER_SETTINGS)!r}.")
    return {name: OPTIMIZER_SETTINGS[name] for name in names}


# ---- when to grow: a rule fitted to the kit's own sweeps -----------------------------------------


@dataclass
class Peak:
    """Where a quadratic in log10(growth fraction) through measured speedups peaks."""

    fraction: float | None  # None: the fit curves upward (no peak)
    speedup: float | None
    residuals: list[float]  # measured - fitted, one per point
    inside: bool  # the peak lies within the measured fractions (else: extrapolation)


def quadratic_peak(fractions: Sequence[float], speedups: Sequence[float]) -> Peak:
    """Fit speedup = a + b x + c x^2, x = log10(fraction), by least squares (three or more
    points) and return its peak x* = -b / 2c when c < 0."""
    import numpy as np

    if len(fractions) < 3 or len(fractions) != len(speedups):
        raise ValueError(f"a peak needs three or more (fraction, speedup) pairs, got {len(fractions)} "
                         f"fractions and {len(speedups)} speedups.")
    x, y = np.log10(np.asarray(fractions, float)), np.asarray(speedups, float)
    c, b, a = np.polyfit(x, y, 2)
    residuals = [float(v) for v in y - (a + b * x + c * x * x)]
    if c >= 0:
        return Peak(None, None, residuals, False)
    top = -b / (2 * c)
    return Peak(float(10**top), float(a + b * top + c * top * top), residuals,
                bool(x.min() <= top <= x.max()))


@dataclass
class TimingRule:
    """Where growth pays most, fitted jointly to the kit's sweeps: at a budget of T tokens per
    target parameter and growth factor g, the speedup over scratch at growth fraction f is

        speedup = height(T, g) + curvature * (log10 f - log10 f*)^2,
        f* = coefficient * (T / 40)^exponent_budget * (g / 4)^exponent_factor,

    one curvature for all, one height per sweep. `residuals`: measured mean speedup minus the
    fit, one per (sweep, fraction) in the order given; `points` the number of them."""

    coefficient: float
    exponent_budget: float
    exponent_factor: float
    curvature: float
    heights: list[float]
    residuals: list[float]

    def predict(self, tokens_per_param: float, factor: float) -> float:
        """f*: the share of the budget before growth where the fitted speedup peaks."""
        return (self.coefficient * (tokens_per_param / 40) ** self.exponent_budget
                * (factor / 4) ** self.exponent_factor)

    @property
    def rms(self) -> float:
        return math.sqrt(sum(r * r for r in self.residuals) / len(self.residuals))


def mean_points(sweeps: Sequence[dict[str, Any]]) -> list[tuple[int, float, float, float, float]]:
    """(sweep index, log10 T/40, log10 g/4, log10 f, mean speedup) for every fraction of every
    sweep that all its seeds reached (a fraction some seed never reached has no mean)."""
    out = []
    for i, sweep in enumerate(sweeps):
        for f, seeds in sorted(sweep["speedups"].items()):
            if all(v is not None for v in seeds):
                out.append((i, math.log10(sweep["tokens_per_param"] / 40), math.log10(sweep["factor"] / 4),
                            math.log10(f), sum(seeds) / len(seeds)))
    return out


def fit_timing(sweeps: Sequence[dict[str, Any]]) -> TimingRule:
    """The TimingRule through `sweeps` (each {tokens_per_param, factor, speedups: {fraction:
    [per seed]}}), by least squares on the mean speedups. For given (coefficient, exponents)
    the heights and the curvature are linear, so a grid over the three, refined three times
    around its best, finds the minimum (numpy only)."""
    import numpy as np

    pts = np.array(mean_points(sweeps))
    if len(pts) < len(sweeps) + 4:
        raise ValueError(f"a timing rule has {len(sweeps) + 4} unknowns for {len(sweeps)} sweeps and "
                         f"needs more mean speedups than that; got {len(pts)}.")
    cell, lt, lg, x, y = pts[:, 0].astype(int), pts[:, 1], pts[:, 2], pts[:, 3], pts[:, 4]
    onehot = np.eye(len(sweeps))[cell]  # points x sweeps
    counts = onehot.sum(axis=0)

    def within(v: np.ndarray) -> np.ndarray:  # each point minus its sweep's mean (rows: candidates)
        return v - (v @ onehot / counts) @ onehot.T

    def fit(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Curvature and squared error for candidate (a, b, c) arrays: with a height per sweep,
        the curvature is the slope of y against (x - x*)^2 within sweeps."""
        q = within((x - (a[:, None] + b[:, None] * lt + c[:, None] * lg)) ** 2)
        dy = within(y[None, :])
        k = (q * dy).sum(axis=1) / np.maximum((q * q).sum(axis=1), 1e-30)
        return k, ((dy - k[:, None] * q) ** 2).sum(axis=1)

    centre, width = np.array([-1.3, 0.0, 0.0]), np.array([1.5, 1.5, 2.5])
    for _ in range(4):
        grid = np.stack(np.meshgrid(*[np.linspace(m - w, m + w, 25) for m, w in zip(centre, width)]), -1)
        grid = grid.reshape(-1, 3)
        _, sse = fit(grid[:, 0], grid[:, 1], grid[:, 2])
        centre, width = grid[int(np.argmin(sse))], width / 6
    a, b, c = centre
    k = float(fit(*(np.array([v]) for v in centre))[0][0])
    q = (x - (a + b * lt + c * lg)) ** 2
    heights = [float(np.mean((y - k * q)[cell == i])) for i in range(len(sweeps))]
    fitted = np.array(heights)[cell] + k * q
    return TimingRule(float(10**a), float(b), float(c), k, heights, [float(r) for r in y - fitted])


def paper_fraction(target: GPTConfig, tokens_per_param: float, factor: int) -> float:
    """The paper's timing guideline (growkit.speedup.guideline_tokens: tokens d for the small
    model) as a share of the budget, for `target` at `tokens_per_param` grown `factor`-fold in
    depth, with the models' exact FLOPs per token (as notebook 04 computes it); above 1 it asks
    for more than the whole budget."""
    import torch

    from .gpt import GPT
    from .speedup import guideline_tokens

    with torch.device("meta"):  # sizes only: nothing allocated
        big = GPT(target)
        small = GPT(dataclasses.replace(target, n_layer=max(1, target.n_layer // int(factor))))
    budget = tokens_per_param * big.n_params() * big.flops_per_token(target.block_size)
    return guideline_tokens(big.n_params(), budget) * small.flops_per_token(target.block_size) / budget


# FLOPs speedups of one-stage G_stack over scratch, per seed (None: scratch's final loss never
# reached), from the kit's own sweeps (docs/results.md has each command): notebook 04 at `cpu-x2`
# (4L×32 target, 160 tokens per target parameter) over seeds 0-2; the `cpu` preset's target
# (4L×48) at 80 tokens per parameter, seed 0 only; and the `cpu` preset itself (40 tokens per
# parameter), seed 0, from tools/stage_sweep.py's timing part.
KIT_SWEEPS: list[dict[str, Any]] = [
    {"setting": "cpu-x2 ×2", "target": "4L×32", "tokens_per_param": 160.0, "factor": 2, "speedups": {
        0.05: [0.217, 0.268, 0.227], 0.1: [0.206, 0.309, 0.226], 0.25: [0.149, 0.222, 0.176],
        0.5: [0.027, 0.098, 0.043]}},
    {"setting": "cpu-x2 ×4", "target": "4L×32", "tokens_per_param": 160.0, "factor": 4, "speedups": {
        0.05: [0.150, 0.349, 0.297], 0.1: [0.072, 0.333, 0.269], 0.25: [0.041, 0.196, 0.150],
        0.5: [None, None, None]}},
    {"setting": "cpu at 80 tok/param ×4", "target": "4L×48", "tokens_per_param": 80.0, "factor": 4,
     "speedups": {0.05: [0.209], 0.1: [0.183], 0.2: [0.138]}},
    # tools/stage_sweep.py, seeds 0-2, one machine (docs/results.md, growing in stages).
    {"setting": "cpu ×4", "target": "4L×48", "tokens_per_param": 40.0, "factor": 4, "speedups": {
        0.025: [0.275, 0.390, 0.330], 0.05: [0.368, 0.506, 0.426], 0.1: [0.350, 0.478, 0.409],
        0.2: [0.244, 0.347, 0.293]}},
]


def timing_peaks(sweeps: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per sweep (one budget and factor): where a quadratic in log10(fraction) through the
    seeds' mean speedups peaks, and the same per seed (its spread). Fractions where some seed
    never reached scratch's loss are left out (said in `dropped`). Where the fit has no peak
    the best measured fraction stands in (`inside` False either way: not a measured peak)."""
    out = []
    for sweep in sweeps:
        kept = {f: s for f, s in sorted(sweep["speedups"].items()) if all(v is not None for v in s)}
        fractions = list(kept)
        means = [sum(s) / len(s) for s in kept.values()]
        peak = quadratic_peak(fractions, means)
        seeds = len(next(iter(kept.values())))
        per_seed = [quadratic_peak(fractions, [kept[f][i] for f in fractions]).fraction for i in range(seeds)]
        best = fractions[means.index(max(means))]
        out.append({**{k: sweep[k] for k in ("setting", "target", "tokens_per_param", "factor")},
                    "fraction": peak.fraction if peak.fraction is not None else best,
                    "peak_speedup": peak.speedup, "inside": peak.inside, "residuals": peak.residuals,
                    "per_seed": per_seed, "best_measured": best, "means": dict(zip(fractions, means)),
                    "dropped": sorted(set(sweep["speedups"]) - set(kept))})
    return out
