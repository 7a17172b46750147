"""The GPT growth experiment: one target, many ways of growing into it, one FLOPs budget.

A speedup over scratch only means something when the target deserves its size at this
budget, so every way of growing is measured against two references on the same budget C:

    scratch      the target from random initialisation, all of C
    grown        a small model for `grow_fraction` of C, grown, then the target for the rest
    small alone  that small model alone, all of C (growth pays only if it beats this too)

A `Variant` names one way of growing (operator, direction, factor, growth point). A `Study`
trains scratch once, each variant's small model alone once and every variant, caching
finished runs, and reports a typed `Row` per variant:

    study = Study.from_preset("cpu")
    rows = study.run([Variant("stack", "depth", 4), Variant("zero", "width", 2)])
    print(study.table(rows)); print(study.verdict(rows[0]))

The target is `small_layers * factor` blocks of width `n_embd`; the budget is set from its
tokens per parameter (the paper's runs sit at 40-90). A variant's factor says how much
smaller its small model is: in depth, target depth / factor blocks; in width, target width /
factor (heads and MLP hidden units shrink alike, head size kept). An operator that spends
compute of its own (G_learn trains a map) has it taken out of the steps after growth.
`python -m growkit compare` is this module's `compare()`: the default variant over seeds.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from .data import load_text
from .device import auto_device, choose
from .gpt import GPT, GPTConfig
from .grow import Operator, resolve
from .grow.depth import layer_order
from .grow.width import narrowed_config
from .limits import check_gpt_study, flagged
from .record import Record, json_safe
from .runs import Job, RunCache, RunOptions, run_jobs, run_spec
from .settings import at_least, check_types, positive, within
from .speedup import pct, speedup, text_table
from .stages import Schedule, continued, phase_evals, phase_steps, train_stages
from .train import TrainConfig, Trainer, seeded

# ---- settings ---------------------------------------------------------------------------------


@dataclass
class StudyConfig:
    corpus: str = "kjv"
    n_embd: int = 48
    n_head: int = 4
    small_layers: int = 1
    factor: int = 4  # target depth = small_layers * factor (G_stack's g)
    op: str = "stack"  # the default variant's operator (what `compare` grows with)
    block_size: int = 64
    batch_size: int = 128
    tokens_per_param: float = 40.0  # of the target model: sets the FLOPs budget
    grow_fraction: float = 0.05  # share of the FLOPs budget the small model gets before growth
    lr_small: float = 1e-2  # tuned separately for each model size (see README)
    lr_big: float = 1.2e-2
    lr_after_growth: float | None = None  # None: the target's own lr_big
    warmup: int = 50
    warmup_after_growth: int = 20  # a short re-warmup after growth
    min_lr_ratio: float = 0.1
    fresh_optimizer: bool = True  # after growth, as the paper
    restart_schedule: bool = True  # after growth, as the paper; False continues one cosine
    learn_steps: int = 100  # G_learn's map-training steps (the paper's code trains 100)
    evals: int = 30  # evaluations per run (spread over phases by their share of steps)
    eval_batches: int = 8

    def __post_init__(self) -> None:
        check_types(self)
        at_least(self, 1, "n_embd", "n_head", "small_layers", "block_size", "batch_size",
                 "learn_steps", "evals", "eval_batches")
        at_least(self, 2, "factor")
        at_least(self, 0, "warmup", "warmup_after_growth")
        positive(self, "tokens_per_param", fix=40.0)
        positive(self, "lr_small", "lr_big", "lr_after_growth", fix=1e-2)
        within(self, "grow_fraction", 0, 1, 0.05, open_lo=True, open_hi=True)
        within(self, "min_lr_ratio", 0, 1, 0.1)
        self.model_config(self.small_layers, 96)  # the width and heads make a valid GPT
        check_gpt_study(self)  # a target this machine can build and hold (growkit.limits)

    def model_config(self, n_layer: int, vocab_size: int) -> GPTConfig:
        return GPTConfig(vocab_size=vocab_size, block_size=self.block_size, n_layer=n_layer,
                         n_head=self.n_head, n_embd=self.n_embd)


def rates_for_width(n_embd: int) -> dict[str, float]:
    """The cpu preset's tuned learning rates (at its width) times its width / n_embd: Adam's
    hidden-layer rule under muP, for presets no one has tuned yet."""
    tuned = StudyConfig()
    scale = tuned.n_embd / n_embd
    # Rounded: 1.2e-2 * 48 / 32 is 0.018000000000000002 in floating point, and a rate is
    # part of a run's cache key, so the same rate typed by hand must find the same runs.
    return {"lr_small": round(tuned.lr_small * scale, 12), "lr_big": round(tuned.lr_big * scale, 12)}


# One table, one meaning per name, for the command line and the notebooks alike. The
# settings' history (why 40 tokens per parameter, why these rates) is in the README.
PRESETS: dict[str, dict[str, Any]] = {
    # Seconds on a CPU, for tests and papermill: a 4-block target so that depth factors 2
    # and 4, partial stacking and the width operators all have something to work on.
    # Numbers at this size mean nothing about growth.
    "smoke": dict(n_embd=16, n_head=2, small_layers=1, factor=4, block_size=32, batch_size=16,
                  tokens_per_param=2.0, grow_fraction=0.3, lr_small=6e-3, lr_big=3e-3, warmup=5,
                  warmup_after_growth=2, learn_steps=5, evals=6, eval_batches=2),
    # 2 CPU cores: 1 -> 4 blocks at width 48, 40 tokens per target parameter.
    "cpu": {},
    # One GPU: 2 -> 8 blocks at width 128, block 256, 60 tokens per parameter (about 1.6M
    # target parameters). Not yet validated on a GPU (see the README).
    "gpu": dict(n_embd=128, n_head=4, small_layers=2, factor=4, block_size=256, batch_size=64,
                tokens_per_param=60.0, **rates_for_width(128), warmup=200,
                warmup_after_growth=100, evals=40, eval_batches=20),
    # Colab's free T4 (fp16 with a grad scaler): the gpu preset's story at width 96.
    "t4": {},
}
PRESETS["t4"] = {**PRESETS["gpu"], "n_embd": 96, **rates_for_width(96)}
# 2 CPU cores, for the lessons that compare x2 growth (notebook 02's stacking ablation, 03's
# width operators, 04's sweep): 2 -> 4 blocks at width 32, 160 tokens per target parameter.
# At the cpu preset's budget the 2-block (and the 4L×24) model alone beats the 4-block target,
# so a x2 speedup there says nothing about growth; a narrower target at 4x the tokens per
# parameter costs about the same FLOPs (the budget grows with the square of the parameters)
# and is where the target deserves its size (the README's "Regimes" has the measurements).
# Rates measured at seed 0 (one thread): 4L×32 1.2567 / 1.2483 / 1.2454 at 1.2e-2 / 1.8e-2 /
# 2e-2; 2L×32 1.2648 / 1.2604 / 1.2670 at 1.2e-2 / 1.5e-2 / 2e-2. The width rule's 1.8e-2 for
# the target was close; each model takes its best.
PRESETS["cpu-x2"] = dict(n_embd=32, small_layers=2, factor=2, tokens_per_param=160.0,
                         lr_small=1.5e-2, lr_big=2e-2)

# The preset a lesson of x2 comparisons runs at, for each preset: the same one where no
# other has been measured (the GPU presets' x2 comparisons are untested, like the rest of them).
X2_PRESETS: dict[str, str] = {"cpu": "cpu-x2"}


def x2_preset(name: str = "auto") -> str:
    """The preset for x2 comparisons that goes with `name` ('auto': from the hardware):
    'cpu' -> 'cpu-x2'; any other preset is its own."""
    chosen = pick_preset(name)
    return X2_PRESETS.get(chosen, chosen)


def pick_preset(name: str = "auto") -> str:
    """A preset's name; 'auto' -> 'gpu' on a GPU with native bf16 (compute capability >= 8),
    't4' on an older GPU (fp16), else 'cpu' (growkit.device.choose decides)."""
    if name != "auto":
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; known: {sorted(PRESETS)} or 'auto'.")
        return name
    return choose().preset  # compute capability decides, not is_bf16_supported (True on a T4)


def preset(name: str = "auto", **overrides: Any) -> StudyConfig:
    """The named preset's settings with `overrides` on top."""
    return StudyConfig(**{**PRESETS[pick_preset(name)], **overrides})


# ---- the budget -------------------------------------------------------------------------------


def sized(model_cfg: GPTConfig) -> GPT:
    """The model on the meta device: its parameters counted without allocating them."""
    with torch.device("meta"):
        return GPT(model_cfg)


@dataclass
class Plan:
    """The FLOPs budget and the default variant's models, from the target's tokens/param."""

    budget_flops: float
    small: GPTConfig
    big: GPTConfig


def plan(cfg: StudyConfig, vocab_size: int) -> Plan:
    big = cfg.model_config(cfg.small_layers * cfg.factor, vocab_size)
    target = sized(big)
    budget = cfg.tokens_per_param * target.n_params() * target.flops_per_token(cfg.block_size)
    return Plan(budget, cfg.model_config(cfg.small_layers, vocab_size), big)


def train_config(cfg: StudyConfig, steps: int, lr: float, warmup: int, seed: int,
                 evals: int) -> TrainConfig:
    return TrainConfig(steps=steps, batch_size=cfg.batch_size, lr=lr, warmup=warmup,
                       min_lr_ratio=cfg.min_lr_ratio, eval_every=max(1, steps // max(1, evals)),
                       eval_batches=cfg.eval_batches, seed=seed)


def growth_phase_configs(cfg: StudyConfig, before: int, after: int, *, seed: int,
                         lr_small: float) -> tuple[TrainConfig, TrainConfig]:
    """Training configs of a grown run's two phases: the small model for `before` steps,
    then the grown one for `after`, with a restarted (default) or continued schedule."""
    evals = [max(1, round(cfg.evals * s / (before + after))) for s in (before, after)]
    tc = train_config(cfg, before, lr_small, cfg.warmup, seed, evals[0])
    after_tc = train_config(cfg, after, cfg.lr_after_growth or cfg.lr_big,
                            cfg.warmup_after_growth, seed, evals[1])
    if not cfg.restart_schedule:
        # One warmup + cosine across both phases (the "naive" continued schedule).
        tc = dataclasses.replace(tc, schedule_steps=before + after)
        after_tc = dataclasses.replace(after_tc, lr=tc.lr, warmup=tc.warmup,
                                       schedule_offset=before, schedule_steps=before + after)
    return tc, after_tc


# ---- what a variant is ------------------------------------------------------------------------


@dataclass
class Variant:
    """One way of growing into the target: operator, direction, factor, growth point."""

    op: str = "stack"
    dim: str = "depth"
    factor: float = 4
    grow_fraction: float | None = None  # share of the budget before growth; None: the config's
    options: dict[str, Any] = field(default_factory=dict)  # passed to grow(), e.g. order="interpolate"
    label: str | None = None
    # Growth in several stages (growkit.stages): op/dim/factor then say only where the first
    # model comes from (`factor` smaller than the target in `dim`); the stages grow it back.
    schedule: Schedule | None = None

    def __post_init__(self) -> None:
        if isinstance(self.schedule, dict):  # a Variant read back from a record's meta
            self.schedule = Schedule(**self.schedule)
        if self.schedule is not None and self.grow_fraction is not None:
            raise ValueError(f"a Variant with a schedule grows at its stages' points, so "
                             f"grow_fraction={self.grow_fraction} has no meaning there: leave it out "
                             "and set Stage(at=...) instead.")

    @property
    def operator(self) -> Operator:
        return resolve(self.op, self.dim, GPT)

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        if self.schedule is not None:
            return self.schedule.name
        opts = [f"{v}" if k == "order" else f"{k}={v}" for k, v in sorted(self.options.items())
                if k not in ("steps", "seed")]
        arrow = "↑" if self.dim == "depth" else "→"
        base = self.operator.label.removeprefix("G_")  # "stack" for G_direct in depth, as the paper
        order = self.options.get("order")
        if order is not None:  # stacking ablations: the layer order names the run
            opts.remove(str(order))
            base = order if order in ("stack", "interpolate") else f"partial-{order}"
        text = f"{base}{arrow}×{self.factor:g}" + "".join(f" {o}" for o in opts)
        if self.grow_fraction is not None:
            text += f" @{self.grow_fraction:.0%}"
        return text


def small_config(target: GPTConfig, dim: str, factor: float) -> GPTConfig:
    """The model that `factor`-fold growth in `dim` turns into `target`."""
    if dim == "depth":
        if float(factor) != int(factor) or target.n_layer % int(factor):
            raise ValueError(f"depth factor {factor:g} does not divide the target's "
                             f"{target.n_layer} blocks.")
        return dataclasses.replace(target, n_layer=target.n_layer // int(factor))
    if dim == "width":
        return narrowed_config(target, factor)
    raise ValueError(f"dim must be 'depth' or 'width', got {dim!r}.")


def valid_factors(cfg: StudyConfig, dim: str, vocab_size: int = 96) -> list[int]:
    """Integer factors the target can be grown by in `dim` (its small model must exist)."""
    target = cfg.model_config(cfg.small_layers * cfg.factor, vocab_size)
    out = []
    for g in range(2, 17):
        try:
            small_config(target, dim, g)
        except ValueError:
            continue
        out.append(g)
    return out


def model_name(cfg: GPTConfig) -> str:
    return f"{cfg.n_layer}L×{cfg.n_embd}"


SHAPE = ("vocab_size", "block_size", "n_layer", "n_head", "n_embd", "mlp_hidden")


def same_shape(a: GPTConfig, b: GPTConfig) -> bool:
    return all(getattr(a, k) == getattr(b, k) for k in SHAPE)


# ---- one variant's numbers --------------------------------------------------------------------


@dataclass
class Row:
    """Everything the course reports about one grown run, beside its two references."""

    name: str
    op: str
    dim: str
    factor: float
    grow_fraction: float | None
    options: dict[str, Any]
    claims_preservation: bool
    max_abs_logits: float | None  # at the growth point, on a validation batch
    delta_loss: float | None
    val_loss_before_growth: float | None
    val_loss_after_growth: float | None
    learn_loss_start: float | None  # G_learn's map training, start and end
    learn_loss_end: float | None
    val_loss: float
    tokens_per_param: float
    flops: float
    params: int
    speedup_flops: float | None  # None: never reached scratch's final loss
    speedup_tokens: float | None
    reached: bool
    reason: str | None
    reached_before_growth: bool  # the small phase alone got there: not growth's doing
    speedup_flops_after_growth: float | None
    small: str  # the small model alone on the same budget: the reference growth must beat
    small_params: int
    small_val_loss: float
    small_tokens_per_param: float
    # The small model alone "speeds up" too when it reaches scratch's final loss: then the
    # target does not deserve its size at this budget and no growth speedup counts.
    small_speedup_flops: float | None
    small_reason: str | None
    beats_small: bool
    beats_scratch: bool

    def to_dict(self) -> dict[str, Any]:
        return json_safe(asdict(self))


def run_numbers(rec: Record) -> dict[str, Any]:
    return {"name": rec.name, "val_loss": rec.final_val_loss, "tokens_per_param": rec.tokens_per_param,
            "flops": rec.total_flops, "tokens": rec.total_tokens, "params": rec.n_params,
            "wall_s": rec.final["wall_s"]}


def best(rows: Iterable[Row]) -> Row | None:
    """The row with the largest FLOPs speedup among those that reached scratch's loss."""
    reached = [r for r in rows if r.speedup_flops is not None]
    return max(reached, key=lambda r: r.speedup_flops or 0.0, default=None)


# ---- the study --------------------------------------------------------------------------------

OnEval = Callable[[Record], None]


def fit(trainer: Trainer, on_eval: OnEval | None) -> None:
    """Train the current phase to its end; with `on_eval`, in chunks of one evaluation
    interval, calling it with the record so far after each (the explorer's live plot)."""
    if on_eval is None:
        trainer.fit()
        return
    trainer.progress = False  # a bar per chunk would only flicker beside the live plot
    while not trainer.phase_done:
        trainer.fit(steps=trainer.config.eval_every)
        on_eval(trainer.record)


@dataclass
class GrownPlan:
    """What a grown run trains: the small model, the growth point, each phase's config."""

    small: GPTConfig
    fraction: float
    before: TrainConfig
    after: TrainConfig
    phases: list[TrainConfig] = field(default_factory=list)  # in stages: every phase's config


def variant_meta(variant: Variant) -> dict[str, Any]:
    """A variant as its record's meta keeps it (a one-stage run's as it always was)."""
    out = asdict(variant)
    if out["schedule"] is None:
        del out["schedule"]
    return out


class Study:
    """One target trained from scratch, and any number of ways of growing into it, all on
    the target's FLOPs budget, for one seed.

    Finished runs are cached in `cache_dir` (see growkit.runs.RunCache), so a notebook run
    twice, or a later notebook needing the same scratch run, trains nothing again. How the
    runs are run (folder, progress, workers, checkpoints) is `options`
    (growkit.runs.RunOptions; `cache_dir` and `progress` may be given alone); none of it
    changes a number. `readonly`: read finished runs only (NotCached for any other).
    """

    def __init__(self, cfg: StudyConfig, seed: int = 0, *, progress: bool | None = None,
                 cache_dir: str | Path | None = None, preset: str | None = None,
                 readonly: bool = False, options: RunOptions | None = None) -> None:
        if options is not None and (progress is not None or cache_dir is not None):
            raise TypeError("Study takes cache_dir and progress either alone or inside options, "
                            "not both: e.g. Study(cfg, options=RunOptions(cache_dir='runs/x', "
                            "progress=False)).")
        self.cfg = cfg
        self.seed = seed
        self.options = options or RunOptions(cache_dir=cache_dir, progress=progress)
        self.preset = preset
        self.cache = RunCache(self.options.cache_dir, readonly=readonly, prune=self.options.prune)
        self.data = load_text(cfg.corpus)
        p = plan(cfg, self.data.vocab_size)
        self.budget_flops = p.budget_flops
        self.target = p.big
        self.alone: dict[str, Record] = {}  # model name -> that model alone on the whole budget
        self.grown: dict[str, Record] = {}  # variant name -> its grown run
        self.variants: dict[str, Variant] = {}

    @classmethod
    def from_preset(cls, name: str = "auto", *, seed: int = 0, progress: bool | None = None,
                    cache_dir: str | Path | None = None, options: RunOptions | None = None,
                    **overrides: Any) -> Study:
        """The study of a named preset ('auto': from the hardware) with `overrides`."""
        chosen = pick_preset(name)
        return cls(preset(chosen, **overrides), seed, progress=progress, cache_dir=cache_dir,
                   preset=chosen, options=options)

    @property
    def progress(self) -> bool | None:
        return self.options.progress

    def reader(self) -> Study:
        """This study reading its cache folder only: a run not finished there raises
        growkit.runs.NotCached instead of training (e.g. the explorer, showing what is there).
        The two share their finished runs: what the reader finds, this study has too."""
        reader = copy.copy(self)  # the same dicts of runs, the same data
        reader.cache = RunCache(self.options.cache_dir, readonly=True)
        return reader

    def describe(self, workers: int | str | None = None) -> str:
        """The setting in one paragraph; `workers` as `run` is given it (None: the options')."""
        n = sized(self.target).n_params()
        tokens = self.budget_flops / sized(self.target).flops_per_token(self.cfg.block_size)
        count = self.options.processes(workers)
        threads = (f"{torch.get_num_threads()} thread(s) per run" if count == 1 else
                   f"1 thread per run, up to {count} runs at once")
        return (f"preset {self.preset or '?'} on {auto_device().type} at {threads}, seed {self.seed}: target "
                f"{model_name(self.target)} ({n:,} params), budget {self.budget_flops:.3g} FLOPs "
                f"= {tokens / n:.0f} tokens per target parameter; growth at "
                f"{self.cfg.grow_fraction:.0%} of the budget unless a variant says otherwise.")

    # ---- the variants a lesson asks for -------------------------------------------------------
    def variant(self, op: str, dim: str, factor: float, grow_fraction: float | None = None
                ) -> Variant:
        """A Variant with this study's operator options (G_learn trains its map for the
        config's learn_steps); `grow_fraction` None: the config's."""
        options = {"steps": self.cfg.learn_steps} if resolve(op, dim, GPT).needs_data else {}
        return Variant(op, dim, factor, grow_fraction, options=options)

    def operators(self, dim: str, factor: float) -> list[Variant]:
        """The paper's four atomic operators in one direction (G_direct is G_stack in depth)."""
        first = "stack" if dim == "depth" else "direct"
        return [self.variant(op, dim, factor) for op in (first, "zero", "random", "learn")]

    def stacking_ablation(self) -> list[Variant]:
        """Whole-model stacking against interpolation and partial stacking (bottom, middle,
        top), all at one factor. They differ only for a small model of two or more blocks, so
        the factor is the largest that leaves at least two (layer orders that coincide at that
        size are listed once)."""
        target_layers = self.target.n_layer
        factors = [g for g in range(target_layers // 2, 1, -1) if target_layers % g == 0]
        if not factors:
            raise ValueError(f"a {target_layers}-block target has no small model of >= 2 blocks: "
                             "stacking ablations need a target of at least 4 blocks.")
        g = factors[0]
        variants, seen = [], set()
        for order in ("stack", "interpolate", "bottom", "middle", "top"):
            layers = tuple(layer_order(target_layers // g, g, order))
            if layers not in seen:
                seen.add(layers)
                # Whole-model stacking is plain G_stack: the same run (and cache entry) as
                # the depth operators' and notebook 03's depth reference at this factor.
                options = {} if order == "stack" else {"order": order}
                variants.append(Variant("stack", "depth", g, options=options))
        return variants

    def grid(self, op: str, dim: str, fractions: Iterable[float], factors: Iterable[float]
             ) -> list[Variant]:
        """Growth timing x growth factor; factors the target cannot take are skipped."""
        ok = valid_factors(self.cfg, dim, self.data.vocab_size)
        fractions = list(fractions)
        return [self.variant(op, dim, g, f) for g in factors if g in ok for f in fractions]

    # ---- sizes and learning rates -------------------------------------------------------------
    def flops_per_step(self, model_cfg: GPTConfig) -> float:
        per_token = sized(model_cfg).flops_per_token(self.cfg.block_size)
        return per_token * self.cfg.batch_size * self.cfg.block_size

    def lr_for(self, model_cfg: GPTConfig) -> float:
        """lr_big for the target's shape, lr_small for the default small model, in between
        interpolated on log parameters (a heuristic); at another width than the config's,
        times n_embd / width (Adam's hidden-layer rule under muP, as rates_for_width).

        Why the width rule: without it a width comparison's narrow model trained at lr_small,
        about half the rate it wants, and looked weaker than it is (README, "Regimes")."""
        n = sized(self.cfg.model_config(model_cfg.n_layer, model_cfg.vocab_size)).n_params()
        n_small = sized(self.cfg.model_config(self.cfg.small_layers, self.data.vocab_size)).n_params()
        n_big = sized(self.target).n_params()
        if n >= n_big:
            lr = self.cfg.lr_big
        elif n <= n_small:
            lr = self.cfg.lr_small
        else:
            t = math.log(n / n_small) / math.log(n_big / n_small)
            lr = math.exp((1 - t) * math.log(self.cfg.lr_small) + t * math.log(self.cfg.lr_big))
        return lr * (self.cfg.n_embd / model_cfg.n_embd)  # exactly lr at the config's width

    def small_of(self, variant: Variant) -> GPTConfig:
        return small_config(self.target, variant.dim, variant.factor)

    # ---- what each run is (its name and spec: the cache's key) --------------------------------
    def alone_name(self, model_cfg: GPTConfig) -> str:
        return "scratch" if same_shape(model_cfg, self.target) else f"{model_name(model_cfg)} alone"

    def alone_config(self, model_cfg: GPTConfig, lr: float | None = None) -> TrainConfig:
        """`model_cfg` alone on the whole budget (lr: its lr_for by default)."""
        lr = self.lr_for(model_cfg) if lr is None else lr
        steps = max(1, round(self.budget_flops / self.flops_per_step(model_cfg)))
        return train_config(self.cfg, steps, lr, self.cfg.warmup, self.seed, self.cfg.evals)

    def alone_spec(self, model_cfg: GPTConfig, tc: TrainConfig) -> dict[str, Any]:
        return run_spec(kind="alone", model=model_cfg.to_dict(), train=asdict(tc),
                        corpus=self.cfg.corpus, seed=self.seed)

    def grown_plan(self, variant: Variant) -> GrownPlan:
        """The grown run's phases: the small model for its share of the budget, the target
        for the rest (less what the operator spends itself: one budget)."""
        if variant.schedule is not None:
            return self.staged_plan(variant)
        cfg, small, operator = self.cfg, self.small_of(variant), variant.operator
        fraction = cfg.grow_fraction if variant.grow_fraction is None else variant.grow_fraction
        if not 0 < fraction < 1:
            raise ValueError(f"grow_fraction must be in (0, 1), got {fraction}.")
        # An operator's own compute (G_learn trains its map through the target model) is
        # charged to the ledger, so it is taken out of the steps after growth.
        own_flops = 0.0
        if operator.extra_tokens is not None:
            tokens = operator.extra_tokens(dict(variant.options), cfg.batch_size, cfg.block_size)
            own_flops = sized(self.target).flops_per_token(cfg.block_size) * tokens
        before = max(1, round(fraction * self.budget_flops / self.flops_per_step(small)))
        after = max(1, round(((1 - fraction) * self.budget_flops - own_flops)
                             / self.flops_per_step(self.target)))
        tc, after_tc = growth_phase_configs(cfg, before, after, seed=self.seed,
                                            lr_small=self.lr_for(small))
        return GrownPlan(small, fraction, tc, after_tc)

    def staged_plan(self, variant: Variant) -> GrownPlan:
        """A schedule's phases (growkit.stages): each model for its share of the budget, the
        models before the target at their lr_for, the target at the one-stage run's rate,
        a re-warmup of warmup_after_growth after every growth."""
        cfg, schedule = self.cfg, variant.schedule
        assert schedule is not None
        models = schedule.models(self.small_of(variant))
        if not same_shape(models[-1], self.target):
            raise ValueError(f"{schedule.name} grows {model_name(models[0])} into {model_name(models[-1])}, "
                             f"not the target {model_name(self.target)}: its stages must grow by the "
                             f"variant's factor {variant.factor:g} in all.")
        steps = phase_steps(schedule.shares(), [self.flops_per_step(m) for m in models], self.budget_flops)
        lrs = [self.lr_for(m) for m in models[:-1]] + [cfg.lr_after_growth or cfg.lr_big]
        warmups = [cfg.warmup] + [cfg.warmup_after_growth] * len(schedule.stages)
        configs = [train_config(cfg, n, lr, w, self.seed, e) for n, lr, w, e
                   in zip(steps, lrs, warmups, phase_evals(steps, cfg.evals))]
        if not cfg.restart_schedule:
            configs = continued(configs)
        return GrownPlan(models[0], schedule.first, configs[0], configs[-1], configs)

    def grown_spec(self, variant: Variant, p: GrownPlan) -> dict[str, Any]:
        if variant.schedule is not None:  # every phase's config and the stages name the run
            return run_spec(kind="grown", small=p.small.to_dict(), phases=[asdict(c) for c in p.phases],
                            stages=variant.schedule.spec(), fresh_optimizer=self.cfg.fresh_optimizer,
                            corpus=self.cfg.corpus, seed=self.seed)
        return run_spec(kind="grown", small=p.small.to_dict(), before=asdict(p.before),
                        after=asdict(p.after), op=variant.operator.name, dim=variant.dim,
                        factor=variant.factor, options=dict(variant.options),
                        fresh_optimizer=self.cfg.fresh_optimizer, corpus=self.cfg.corpus, seed=self.seed)

    def jobs(self, variants: Iterable[Variant]) -> list[Job]:
        """Every run `variants` need, once each, as growkit.runs.run_jobs takes them: scratch,
        each small model alone, each grown run."""
        child = dataclasses.replace(self.options, workers=1, progress=False)
        args = (self.cfg, self.seed, self.preset, child)
        target = self.alone_spec(self.target, self.alone_config(self.target))
        out = {RunCache.key(target): Job(target, "scratch", train_job, (*args, "scratch", None))}
        for v in variants:
            small = self.small_of(v)
            spec = self.alone_spec(small, self.alone_config(small))
            out.setdefault(RunCache.key(spec), Job(spec, self.alone_name(small), train_job,
                                                   (*args, "alone", v)))
        for v in variants:
            spec = self.grown_spec(v, self.grown_plan(v))
            out.setdefault(RunCache.key(spec), Job(spec, v.name, train_job, (*args, "grown", v)))
        return list(out.values())

    # ---- the runs -----------------------------------------------------------------------------
    @property
    def scratch(self) -> Record:
        """The target from random initialisation, on the whole budget (lr_big)."""
        return self.train_alone(self.target)

    def small_alone(self, variant: Variant, on_eval: OnEval | None = None) -> Record:
        return self.train_alone(self.small_of(variant), on_eval=on_eval)

    def train_alone(self, model_cfg: GPTConfig, lr: float | None = None,
                    on_eval: OnEval | None = None) -> Record:
        """`model_cfg` trained alone on the whole budget; the target's run is named 'scratch'."""
        name = self.alone_name(model_cfg)
        if name in self.alone:
            return self.alone[name]
        tc = self.alone_config(model_cfg, lr)

        def train(out_dir: Path | None, stem: str) -> Record:
            trainer = Trainer(seeded(self.seed, lambda: GPT(model_cfg)), self.data, tc, name=name,
                              progress=self.progress, out_dir=out_dir,
                              checkpointing=self.options.checkpointing(stem))
            fit(trainer, on_eval)
            trainer.record.meta.update(run="scratch" if name == "scratch" else "alone",
                                       budget_flops=self.budget_flops, study=asdict(self.cfg))
            return trainer.record

        self.alone[name] = self.cache.get(self.alone_spec(model_cfg, tc), name, train)
        return self.alone[name]

    def add(self, variant: Variant, on_eval: OnEval | None = None) -> Record:
        """Train `variant` (and, first, the scratch run and its small model alone when they
        are not there yet); returns the grown run's record."""
        self.train_alone(self.target, on_eval=on_eval)  # first: every speedup is against it
        self.small_alone(variant, on_eval)
        return self.train_grown(variant, on_eval)

    def train_grown(self, variant: Variant, on_eval: OnEval | None = None) -> Record:
        """The grown run of `variant` alone (`add` trains its references first). Its small
        phase trains from its own initialisation, so no run waits for another: a study's runs
        can train in parallel processes (growkit.runs.run_jobs)."""
        name = variant.name
        if name in self.grown:
            return self.grown[name]
        p = self.grown_plan(variant)

        def train(out_dir: Path | None, stem: str) -> Record:
            trainer = Trainer(seeded(self.seed, lambda: GPT(p.small)), self.data, p.before, name=name,
                              progress=self.progress, out_dir=out_dir,
                              checkpointing=self.options.checkpointing(stem))
            if variant.schedule is not None:  # growth in stages (growkit.stages): every phase
                train_stages(trainer, variant.schedule, p.phases, fresh_optimizer=self.cfg.fresh_optimizer,
                             fit=lambda t: fit(t, on_eval))
            else:
                fit(trainer, on_eval)
                model = trainer.grow(variant.op, dim=variant.dim, factor=variant.factor, config=p.after,
                                     fresh_optimizer=self.cfg.fresh_optimizer, **dict(variant.options))
                if not same_shape(model.config, self.target):
                    raise RuntimeError(f"{name} grew into {model.config}, not the target {self.target}.")
                fit(trainer, on_eval)
            trainer.record.meta.update(run="grown", variant=variant_meta(variant), grow_fraction=p.fraction,
                                       budget_flops=self.budget_flops, study=asdict(self.cfg))
            return trainer.record

        self.grown[name] = self.cache.get(self.grown_spec(variant, p), name, train)
        self.variants[name] = variant
        return self.grown[name]

    def model(self, variant: Variant) -> GPT | None:
        """The grown run's final weights, from its last checkpoint in the cache (None without
        a cache_dir): e.g. to sample text from it. A checkpoint gone or unreadable raises an
        error naming the files to delete so that a re-run trains the run again."""
        model = self.cache.final_model(self.add(variant))
        assert model is None or isinstance(model, GPT)
        return model

    def run(self, variants: Iterable[Variant], workers: int | str | None = None) -> list[Row]:
        """Train every variant (one progress line over the runs); returns their rows. With
        `workers` > 1 (None: the options'; a cache folder needed) the runs train first in that
        many processes at one thread each (growkit.runs: faster and steadier on a busy CPU,
        other numbers than torch's default thread count gives). "auto": one process per core
        on a CPU (1 on a GPU, or without a cache folder)."""
        variants = list(variants)
        train_runs([self], variants, workers)
        return [self.row(v) for v in variants]

    # ---- numbers ------------------------------------------------------------------------------
    def row(self, variant: Variant) -> Row:
        """Everything a notebook reports about one variant."""
        rec, small, scratch = self.add(variant), self.small_alone(variant), self.scratch
        sp, ref = speedup(scratch, rec), speedup(scratch, small)
        event = rec.events[0]
        before = [h for h in rec.history if h["phase"] == 0][-1]
        after = [h for h in rec.history if h["phase"] == 1][0]
        info = event.get("info") or {}
        return Row(
            name=variant.name, op=variant.operator.name, dim=variant.dim, factor=variant.factor,
            grow_fraction=rec.meta.get("grow_fraction"), options=dict(variant.options),
            claims_preservation=variant.operator.preserves_function,
            max_abs_logits=event["preservation"]["max_abs_logits"],
            delta_loss=event["preservation"].get("delta_loss"),
            val_loss_before_growth=before["val_loss"], val_loss_after_growth=after["val_loss"],
            learn_loss_start=info.get("loss_start"), learn_loss_end=info.get("loss_end"),
            val_loss=rec.final_val_loss, tokens_per_param=rec.tokens_per_param,
            flops=rec.total_flops, params=rec.n_params,
            speedup_flops=sp.flops, speedup_tokens=sp.tokens, reached=sp.reached,
            reason=sp.reason, reached_before_growth=sp.reached_before_growth,
            speedup_flops_after_growth=sp.flops_after_growth,
            small=small.name, small_params=small.n_params, small_val_loss=small.final_val_loss,
            small_tokens_per_param=small.tokens_per_param,
            small_speedup_flops=ref.flops, small_reason=ref.reason,
            beats_small=rec.final_val_loss < small.final_val_loss,
            beats_scratch=rec.final_val_loss < scratch.final_val_loss)

    def rows(self, variants: Iterable[Variant] | None = None) -> list[Row]:
        chosen = self.variants.values() if variants is None else variants
        return [self.row(v) for v in chosen]

    def summary(self) -> dict[str, Any]:
        """The study as JSON-ready data: settings, budget, every finished run's numbers
        (trains nothing: an explorer nobody clicked has no scratch run yet)."""
        scratch = self.alone.get("scratch")
        return json_safe({
            "preset": self.preset, "seed": self.seed, "device": auto_device().type,
            "config": asdict(self.cfg), "budget_flops": self.budget_flops,
            "target": {"name": model_name(self.target), "params": sized(self.target).n_params()},
            "scratch": None if scratch is None else run_numbers(scratch),
            "alone": {name: run_numbers(r) for name, r in self.alone.items()},
            "rows": [r.to_dict() for r in self.rows()] if scratch is not None else [],
        })

    def records(self, variants: Iterable[Variant] | None = None) -> list[Record]:
        """scratch, the small models alone that `variants` need, then the grown runs."""
        chosen = list(self.variants.values() if variants is None else variants)
        smalls = {self.small_alone(v).name: self.small_alone(v) for v in chosen}
        return [self.scratch, *smalls.values(), *(self.add(v) for v in chosen)]

    # ---- in words -----------------------------------------------------------------------------
    def table(self, rows: list[Row]) -> str:
        """Scratch, one line per grown run, then each distinct small model alone."""
        scratch = self.alone.get("scratch")
        body: list[list[Any]] = []
        if scratch is not None:
            body.append(["scratch", f"{scratch.final_val_loss:.4f}", "", "",
                         f"{scratch.tokens_per_param:.0f}", "", ""])
        for r in rows:
            body.append([r.name, f"{r.val_loss:.4f}", pct(r.speedup_flops, 0, r.reached_before_growth),
                         pct(r.speedup_tokens), f"{r.tokens_per_param:.0f}",
                         "" if r.delta_loss is None else f"{r.delta_loss:+.4f}",
                         "yes" if r.beats_small else "no"])
        seen = set()
        for r in rows:
            if r.small not in seen:
                seen.add(r.small)
                body.append([r.small, f"{r.small_val_loss:.4f}", pct(r.small_speedup_flops), "",
                             f"{r.small_tokens_per_param:.0f}", "", ""])
        head = ["run", "val loss", "speedup", "(tokens)", "tok/param", "Δloss@growth", "beats small alone"]
        note = ("speedup: FLOPs (and tokens) scratch needs for its final loss / what the run needs, "
                "minus 1; 'never': the run never reached it; *: reached before growth, by the small "
                "phase alone.")
        return text_table(head, body) + "\n" + note + flagged(self, [r.name for r in rows])

    def preservation_table(self, rows: list[Row]) -> str:
        """Function preservation measured at the growth point: the logits' largest change on a
        validation batch, the loss change there, and the validation loss just before and just
        after growth (same batches, so a preserving operator shows no jump)."""
        body = [[r.name, "yes" if r.claims_preservation else "no", f"{r.max_abs_logits:.2e}",
                 "" if r.delta_loss is None else f"{r.delta_loss:+.4f}",
                 f"{r.val_loss_before_growth:.4f}", f"{r.val_loss_after_growth:.4f}"] for r in rows]
        return text_table(["run", "claims", "max|Δlogits|", "Δloss", "val before", "val after"], body)

    def verdict(self, row: Row) -> str:
        """What one grown run's numbers say, in words, honest reference first."""
        scratch = self.scratch
        deserves = scratch.final_val_loss < row.small_val_loss
        parts = [f"The target {'beats' if deserves else 'loses to'} the small model trained alone on "
                 f"the same budget ({scratch.final_val_loss:.4f} vs {row.small_val_loss:.4f} at "
                 f"{scratch.tokens_per_param:.0f} vs {row.small_tokens_per_param:.0f} tokens/param)."]
        if not deserves:
            parts.append("It does not deserve its size at this budget, so a speedup over scratch says "
                         "nothing about growth: raise tokens_per_param.")
        if row.speedup_flops is None:
            parts.append(f"{row.name} never reached scratch's final loss.")
        else:
            parts.append(f"{row.name} reaches scratch's final loss with {row.speedup_flops:+.0%} "
                         f"speedup in FLOPs ({pct(row.speedup_tokens)} in tokens) and "
                         f"{'beats' if row.beats_small else 'does not beat'} the small model alone.")
            if row.reached_before_growth:
                parts.append("But the small phase alone got there before growth: on the grown "
                             f"model's own evaluations the speedup is {pct(row.speedup_flops_after_growth)}.")
        return " ".join(parts) + flagged(self, [row.name], sep=" ")


def train_runs(studies: list[Study], variants: list[Variant], workers: int | str | None = None) -> None:
    """Train the runs `variants` need for every study (one per seed, sharing one folder):
    with `workers` > 1 (None: the first study's options) in that many one-thread processes
    (growkit.runs.run_jobs; runs already in the folder are not handed out), then read here;
    else here, each run with its own progress line (the Trainer's: run, step, loss, time left).
    No line counting the runs around it: two live lines need the cursor moved up a line,
    which JupyterLab's output does not do, so every update piled up as a new line."""
    options = studies[0].options
    count = options.processes(workers)
    if count != 1:
        jobs = [job for study in studies for job in study.jobs(variants)]
        run_jobs(RunCache(options.cache_dir).untrained(jobs), count, options.show_progress())
    for study in studies:
        for v in variants:
            study.add(v)


def train_job(cfg: StudyConfig, seed: int, preset: str | None, options: RunOptions, kind: str,
              variant: Variant | None) -> None:
    """One run of a Study into options.cache_dir (what a worker process does with a Job):
    the same Study built again, asked for the one run."""
    study = Study(cfg, seed, preset=preset, options=options)
    if kind == "scratch":
        study.train_alone(study.target)
    elif kind == "alone":
        study.small_alone(variant)  # type: ignore[arg-type]
    else:
        study.train_grown(variant)  # type: ignore[arg-type]
