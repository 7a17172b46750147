"""Many ways of growing into one target, each against the same scratch run: what the
course notebooks (and the explorer) share.

compare.py trains one fixed trio: scratch, G_stack in depth, and the small model alone. The
course asks more of the same budget: all four operators in both directions, stacking
ablations, other growth points and factors. A `Variant` names one way of reaching the
target; a `Study` trains the target from scratch once, each variant's small model alone once
(the reference every growth has to beat), and every variant:

    study = Study(course_config("cpu"))
    study.run([Variant("stack", "depth", 4), Variant("zero", "width", 2)])
    study.rows()      # final losses, speedups, tokens per parameter, preservation
    study.summary()   # the same as plain JSON data, for results files

The target is compare's: `small_layers * factor` blocks of width `n_embd`, on compare's FLOPs
budget, so a study's scratch run is compare's scratch run. A variant's own factor says how
much smaller its small model is: in depth, target depth / factor blocks; in width, target
width / factor (heads and MLP hidden units shrink alike, head size kept). Every grown run
spends the same budget: the learned operators' short map-training phase is taken out of
the steps after growth.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from .compare import PRESETS, CompareConfig, growth_phase_configs, plan, rates_for_width, train_config
from .data import load_text
from .gpt import GPT, GPTConfig
from .grow.learn import EVAL_BATCHES as LEARN_EVAL_BATCHES
from .grow.registry import claims_preservation, resolve
from .record import Record, atomic_write_text
from .speedup import guideline_tokens, pct, speedup
from .train import Trainer, auto_device

# ---- presets ------------------------------------------------------------------------------

COURSE_PRESETS: dict[str, dict[str, Any]] = {
    # compare's cpu sizes on half its budget, so a notebook takes half the time: at 40 tokens
    # per parameter the 4-block target still beats the 1-block model alone (1.262 vs 1.325
    # on seed 0), at 20 it does not (1.417 vs 1.362), and then no speedup means anything.
    "cpu": {**PRESETS["cpu"], "tokens_per_param": 40.0},
    "gpu": PRESETS["gpu"],
    # Colab's free T4 (fp16 with a grad scaler): the gpu preset's story at width 96, about a
    # third of its FLOPs. Sized by arithmetic, not timed on a T4; on an H200 notebook 00's
    # three runs took 8 minutes (tiny models are launch-bound, so a T4 may not be slower)
    # and, with the earlier 3e-3/2e-3 rates, its grown run never reached scratch's loss.
    # The rates are now scaled to the width as the gpu preset's are, untried.
    "t4": {**PRESETS["gpu"], "n_embd": 96, **rates_for_width(96)},
}
# Seconds on a CPU, for papermill regression runs: compare's smoke sizes, but a 4-block
# target (as the cpu preset's) so that depth factors 2 and 4, partial stacking and the
# width operators all have something to work on. The learning rates are pinned, so that
# retuning the presets does not move the numbers the regression tests check. Numbers at
# this size mean nothing about growth.
SMOKE: dict[str, Any] = {**PRESETS["smoke"], "factor": 4, "lr_small": 6e-3, "lr_big": 3e-3}
SMOKE_LEARN_STEPS = 5
LEARN_STEPS = 100  # the paper's code trains its LiGO map for 100 steps


def pick_preset(name: str = "auto") -> str:
    """'auto' -> 'gpu' on a GPU with bf16, 't4' on an older GPU (fp16), else 'cpu'."""
    if name != "auto":
        if name not in COURSE_PRESETS:
            raise ValueError(f"unknown preset {name!r}; known: {sorted(COURSE_PRESETS)} or 'auto'.")
        return name
    if torch.cuda.is_available():
        return "gpu" if torch.cuda.is_bf16_supported() else "t4"
    return "cpu"


def course_config(preset: str = "auto", smoke: bool = False, **overrides: Any) -> CompareConfig:
    """The preset's settings, the smoke sizes on top when `smoke`, then `overrides`."""
    values = {**COURSE_PRESETS[pick_preset(preset)], **(SMOKE if smoke else {}), **overrides}
    return CompareConfig(**values)


def learn_steps(smoke: bool) -> int:
    return SMOKE_LEARN_STEPS if smoke else LEARN_STEPS


# ---- what a variant is ----------------------------------------------------------------------

@dataclass
class Variant:
    """One way of growing into the target: operator, direction, factor, growth point."""

    op: str = "stack"
    dim: str = "depth"
    factor: float = 4
    grow_fraction: float | None = None  # share of the budget before growth; None: the config's
    options: dict[str, Any] = field(default_factory=dict)  # passed to grow(), e.g. order="interpolate"
    label: str | None = None

    @property
    def canonical_op(self) -> str:
        return resolve(self.op, self.dim).name

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        opts = [f"{v}" if k == "order" else f"{k}={v}" for k, v in sorted(self.options.items())
                if k not in ("steps", "seed")]
        arrow = "↑" if self.dim == "depth" else "→"
        base = self.op
        order = self.options.get("order")
        if order is not None:  # stacking ablations: the layer order names the run
            opts.remove(str(order))
            base = {"stack": "stack", "interpolate": "interpolate"}.get(order, f"partial-{order}")
        text = f"{base}{arrow}×{self.factor:g}" + "".join(f" {o}" for o in opts)
        if self.grow_fraction is not None:
            text += f" @{self.grow_fraction:.0%}"
        return text


def operators(dim: str, factor: float, smoke: bool = False) -> list[Variant]:
    """The paper's four atomic operators in one direction (G_direct is G_stack in depth)."""
    first = "stack" if dim == "depth" else "direct"
    return [Variant(op, dim, factor, options={"steps": learn_steps(smoke)} if op == "learn" else {})
            for op in (first, "zero", "random", "learn")]


def stacking_ablation(cfg: CompareConfig) -> list[Variant]:
    """Whole-model stacking against interpolation and partial stacking (bottom, middle,
    top), all at one factor. They differ only for a small model of two or more blocks, so
    the factor is the largest that leaves at least two (layer orders that coincide at that
    size are listed once)."""
    from .grow.depth import layer_order

    target_layers = cfg.small_layers * cfg.factor
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
            variants.append(Variant("stack", "depth", g, options={"order": order}))
    return variants


def grid(op: str, dim: str, fractions: Iterable[float], factors: Iterable[float],
         cfg: CompareConfig, smoke: bool = False) -> list[Variant]:
    """Growth timing x growth factor, for the sweep; factors the target cannot take are skipped
    (see `valid_factors`)."""
    ok = valid_factors(cfg, dim)
    options = {"steps": learn_steps(smoke)} if resolve(op, dim).name == "learn" else {}
    return [Variant(op, dim, g, grow_fraction=f, options=dict(options))
            for g in factors if g in ok for f in fractions]


def valid_factors(cfg: CompareConfig, dim: str, vocab_size: int = 96) -> list[int]:
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


def small_config(target: GPTConfig, dim: str, factor: float) -> GPTConfig:
    """The model that `factor`-fold growth in `dim` turns into `target`."""
    g = factor
    if dim == "depth":
        if float(g) != int(g) or target.n_layer % int(g):
            raise ValueError(f"depth factor {g:g} does not divide the target's {target.n_layer} blocks.")
        return dataclasses.replace(target, n_layer=target.n_layer // int(g))
    if dim == "width":
        assert target.mlp_hidden is not None
        heads, hidden = target.n_head / g, target.mlp_hidden / g
        if heads != int(heads) or hidden != int(hidden):
            raise ValueError(
                f"width factor {g:g} must divide the target's {target.n_head} heads and "
                f"{target.mlp_hidden} MLP hidden units (width growth keeps the head size).")
        return dataclasses.replace(target, n_head=int(heads), n_embd=int(heads) * target.head_dim,
                                   mlp_hidden=int(hidden))
    raise ValueError(f"dim must be 'depth' or 'width', got {dim!r}.")


def model_name(cfg: GPTConfig) -> str:
    return f"{cfg.n_layer}L×{cfg.n_embd}"


SHAPE = ("vocab_size", "block_size", "n_layer", "n_head", "n_embd", "mlp_hidden")


def same_shape(a: GPTConfig, b: GPTConfig) -> bool:
    return all(getattr(a, k) == getattr(b, k) for k in SHAPE)


# ---- training ---------------------------------------------------------------------------------

CACHE_VERSION = 1
OnEval = Callable[[Record], None]


def fit(trainer: Trainer, on_eval: OnEval | None) -> None:
    """Train the current phase to its end; with `on_eval`, in chunks of one evaluation
    interval, calling it with the record so far after each (the explorer's live plot)."""
    if on_eval is None:
        trainer.fit()
        return
    trainer.progress = False  # a bar per chunk would only flicker beside the live plot
    while trainer.phase_step < trainer.config.steps:
        trainer.fit(steps=trainer.config.eval_every)
        on_eval(trainer.record)


class Study:
    """One target trained from scratch, and any number of ways of growing into it, all on
    the target's FLOPs budget.

    Finished runs are cached in `cache_dir` (one JSON record per run, named by a hash of
    everything that determines it), so a notebook run twice, or a later notebook needing
    the same scratch run, trains nothing again. Delete the folder to retrain.
    """

    def __init__(self, cfg: CompareConfig, seed: int = 0, *, progress: bool | None = None,
                 cache_dir: str | Path | None = None, preset: str | None = None) -> None:
        self.cfg = cfg
        self.seed = seed
        self.progress = progress
        self.preset = preset
        self.cache = Path(cache_dir) if cache_dir else None
        self.data = load_text(cfg.corpus)
        p = plan(cfg, self.data.vocab_size)
        self.budget_flops = p.budget_flops
        self.target = p.big
        self.alone: dict[str, Record] = {}  # model name -> that model alone on the whole budget
        self.grown: dict[str, Record] = {}  # variant name -> its grown run
        self.variants: dict[str, Variant] = {}

    def describe(self) -> str:
        n = GPT(self.target).n_params()
        tokens = self.budget_flops / GPT(self.target).flops_per_token(self.cfg.block_size)
        return (f"preset {self.preset or '?'} on {auto_device().type}, seed {self.seed}: target "
                f"{model_name(self.target)} ({n:,} params), budget {self.budget_flops:.3g} FLOPs "
                f"= {tokens / n:.0f} tokens per target parameter; growth at "
                f"{self.cfg.grow_fraction:.0%} of the budget unless a variant says otherwise.")

    # ---- sizes and learning rates --------------------------------------------------------------
    def flops_per_step(self, model_cfg: GPTConfig) -> float:
        return GPT(model_cfg).flops_per_token(self.cfg.block_size) * self.cfg.batch_size * self.cfg.block_size

    def lr_for(self, model_cfg: GPTConfig) -> float:
        """The config's lr_big for the target, lr_small for compare's small model or anything
        smaller, and in between interpolated on log parameters (a heuristic, not tuned)."""
        n = GPT(model_cfg).n_params()
        n_small = GPT(self.cfg.model_config(self.cfg.small_layers, self.data.vocab_size)).n_params()
        n_big = GPT(self.target).n_params()
        if n >= n_big:
            return self.cfg.lr_big
        if n <= n_small:
            return self.cfg.lr_small
        t = math.log(n / n_small) / math.log(n_big / n_small)
        return math.exp((1 - t) * math.log(self.cfg.lr_small) + t * math.log(self.cfg.lr_big))

    def small_of(self, variant: Variant) -> GPTConfig:
        return small_config(self.target, variant.dim, variant.factor)

    # ---- cache -----------------------------------------------------------------------------
    def _cached(self, name: str, spec: dict[str, Any], train: Callable[[], Record]) -> Record:
        if self.cache is None:
            return train()
        spec = {**spec, "version": CACHE_VERSION, "corpus": self.cfg.corpus, "seed": self.seed,
                "device": auto_device().type}
        key = hashlib.sha1(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]
        path = self.cache / f"{key}.json"
        if path.exists():
            record = Record.load(path)
            record.name = name  # the same run may be asked for under another name
            return record
        record = train()
        record.meta["cache_spec"] = spec
        record.save(path)
        return record

    # ---- the runs ----------------------------------------------------------------------------
    @property
    def scratch(self) -> Record:
        """The target from random initialisation, on the whole budget (lr_big)."""
        return self.train_alone(self.target)

    def small_alone(self, variant: Variant, on_eval: OnEval | None = None) -> Record:
        return self.train_alone(self.small_of(variant), on_eval=on_eval)

    def train_alone(self, model_cfg: GPTConfig, lr: float | None = None,
                    on_eval: OnEval | None = None) -> Record:
        """`model_cfg` trained alone on the whole budget; the target's run is named 'scratch'."""
        name = "scratch" if same_shape(model_cfg, self.target) else f"{model_name(model_cfg)} alone"
        if name in self.alone:
            return self.alone[name]
        cfg = self.cfg
        lr = self.lr_for(model_cfg) if lr is None else lr
        steps = max(1, round(self.budget_flops / self.flops_per_step(model_cfg)))
        tc = train_config(cfg, steps, lr, cfg.warmup, self.seed, cfg.evals)

        def train() -> Record:
            torch.manual_seed(self.seed)  # as compare.run_one: the same scratch run as compare's
            trainer = Trainer(GPT(model_cfg), self.data, tc, name=name, progress=self.progress)
            fit(trainer, on_eval)
            trainer.record.meta.update(run="scratch" if name == "scratch" else "alone",
                                       budget_flops=self.budget_flops, compare=asdict(cfg))
            return trainer.record

        spec = {"kind": "alone", "model": model_cfg.to_dict(), "train": asdict(tc)}
        self.alone[name] = self._cached(name, spec, train)
        return self.alone[name]

    def add(self, variant: Variant, on_eval: OnEval | None = None) -> Record:
        """Train `variant` (and, first, the scratch run and its small model alone when they
        are not there yet); returns the grown run's record."""
        self.train_alone(self.target, on_eval=on_eval)  # first: every speedup is against it
        self.small_alone(variant, on_eval)
        name = variant.name
        if name in self.grown:
            return self.grown[name]
        cfg, small = self.cfg, self.small_of(variant)
        fraction = cfg.grow_fraction if variant.grow_fraction is None else variant.grow_fraction
        if not 0 < fraction < 1:
            raise ValueError(f"grow_fraction must be in (0, 1), got {fraction}.")
        options = dict(variant.options)
        # The learned operators train their map through the target model; that compute is
        # charged to the ledger (train.py), so it is taken out of the steps after growth
        # to keep every run on one budget.
        map_flops = 0.0
        if variant.canonical_op == "learn":
            options.setdefault("steps", LEARN_STEPS)
            map_tokens = (options["steps"] + 2 * LEARN_EVAL_BATCHES) * cfg.batch_size * cfg.block_size
            map_flops = GPT(self.target).flops_per_token(cfg.block_size) * map_tokens
        before = max(1, round(fraction * self.budget_flops / self.flops_per_step(small)))
        after = max(1, round(((1 - fraction) * self.budget_flops - map_flops)
                             / self.flops_per_step(self.target)))
        tc, after_tc = growth_phase_configs(cfg, before, after, seed=self.seed,
                                            lr_small=self.lr_for(small))

        def train() -> Record:
            torch.manual_seed(self.seed)
            trainer = Trainer(GPT(small), self.data, tc, name=name, progress=self.progress)
            fit(trainer, on_eval)
            model = trainer.grow(variant.op, dim=variant.dim, factor=variant.factor, config=after_tc,
                                 fresh_optimizer=cfg.fresh_optimizer, **options)
            if not same_shape(model.config, self.target):
                raise RuntimeError(f"{name} grew into {model.config}, not the target {self.target}.")
            fit(trainer, on_eval)
            trainer.record.meta.update(run="grown", variant=asdict(variant), grow_fraction=fraction,
                                       budget_flops=self.budget_flops, compare=asdict(cfg))
            return trainer.record

        spec = {"kind": "grown", "small": small.to_dict(), "before": asdict(tc), "after": asdict(after_tc),
                "op": variant.canonical_op, "dim": variant.dim, "factor": variant.factor,
                "options": options, "fresh_optimizer": cfg.fresh_optimizer}
        self.grown[name] = self._cached(name, spec, train)
        self.variants[name] = variant
        return self.grown[name]

    def run(self, variants: Iterable[Variant]) -> list[dict[str, Any]]:
        """Train every variant (one progress line over the runs); returns their rows."""
        from tqdm.auto import tqdm

        from .train import interactive

        variants = list(variants)
        on = interactive() if self.progress is None else self.progress
        for v in tqdm(variants, desc="runs", disable=not on, leave=False):
            self.add(v)
        return [self.row(v) for v in variants]

    # ---- numbers -----------------------------------------------------------------------------
    def row(self, variant: Variant) -> dict[str, Any]:
        """Everything a notebook reports about one variant, as plain data."""
        rec, small, scratch = self.add(variant), self.small_alone(variant), self.scratch
        sp, ref = speedup(scratch, rec), speedup(scratch, small)
        event = rec.events[0]
        before = [h for h in rec.history if h["phase"] == 0][-1]
        after = [h for h in rec.history if h["phase"] == 1][0]
        info = event.get("info") or {}
        return clean({
            "name": variant.name, "op": variant.canonical_op, "dim": variant.dim,
            "factor": variant.factor, "grow_fraction": rec.meta.get("grow_fraction"),
            "options": {k: v for k, v in variant.options.items()},
            "claims_preservation": claims_preservation(variant.op, variant.dim),
            "max_abs_logits": event["preservation"]["max_abs_logits"],
            "delta_loss": event["preservation"].get("delta_loss"),
            "val_loss_before_growth": before["val_loss"], "val_loss_after_growth": after["val_loss"],
            "learn_loss_start": info.get("loss_start"), "learn_loss_end": info.get("loss_end"),
            "val_loss": rec.final_val_loss, "tokens_per_param": rec.tokens_per_param,
            "flops": rec.total_flops, "params": rec.n_params,
            "speedup_flops": sp.flops, "speedup_tokens": sp.tokens, "reached": sp.reached,
            "reason": sp.reason, "reached_before_growth": sp.reached_before_growth,
            "speedup_flops_after_growth": sp.flops_after_growth,
            "small": small.name, "small_params": small.n_params, "small_val_loss": small.final_val_loss,
            "small_tokens_per_param": small.tokens_per_param,
            # The small model alone "speeds up" too when it reaches scratch's final loss: then
            # the target does not deserve its size at this budget and no growth speedup counts.
            "small_speedup_flops": ref.flops, "small_reason": ref.reason,
            "beats_small": rec.final_val_loss < small.final_val_loss,
            "beats_scratch": rec.final_val_loss < scratch.final_val_loss,
        })

    def rows(self, variants: Iterable[Variant] | None = None) -> list[dict[str, Any]]:
        chosen = self.variants.values() if variants is None else variants
        return [self.row(v) for v in chosen]

    def summary(self) -> dict[str, Any]:
        """The study as JSON-ready data: settings, budget, every finished run's numbers
        (trains nothing: an explorer nobody clicked has no scratch run yet)."""
        cfg = {k: v for k, v in asdict(self.cfg).items() if k != "seeds"}
        scratch = self.alone.get("scratch")
        return clean({
            "preset": self.preset, "seed": self.seed, "device": auto_device().type, "config": cfg,
            "budget_flops": self.budget_flops,
            "target": {"name": model_name(self.target), "params": GPT(self.target).n_params()},
            "scratch": None if scratch is None else run_numbers(scratch),
            "alone": {name: run_numbers(r) for name, r in self.alone.items()},
            "rows": self.rows() if scratch is not None else [],
        })

    def records(self, variants: Iterable[Variant] | None = None) -> list[Record]:
        """scratch, the small models alone that `variants` need, then the grown runs."""
        chosen = list(self.variants.values() if variants is None else variants)
        smalls = {self.small_alone(v).name: self.small_alone(v) for v in chosen}
        return [self.scratch, *smalls.values(), *(self.add(v) for v in chosen)]


def run_numbers(rec: Record) -> dict[str, Any]:
    return {"name": rec.name, "val_loss": rec.final_val_loss, "tokens_per_param": rec.tokens_per_param,
            "flops": rec.total_flops, "tokens": rec.total_tokens, "params": rec.n_params,
            "wall_s": rec.final["wall_s"]}


def clean(value: Any) -> Any:
    """JSON-safe copy: NaN and infinities become None (strict JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


def save_results(path: str | Path, results: dict[str, Any]) -> Path:
    """Write a notebook's key numbers as strict JSON (what the papermill tests read)."""
    text = json.dumps(clean(results), indent=1, allow_nan=False)
    return atomic_write_text(Path(path), text + "\n")


# ---- tables ------------------------------------------------------------------------------------

def format_rows(rows: list[dict[str, Any]], scratch: Record | None = None) -> str:
    """One line per variant, and each distinct small model alone below."""
    head = (f"{'run':<26} {'val loss':>8} {'speedup':>8} {'(tokens)':>8} {'tok/param':>9} "
            f"{'Δloss@growth':>12}  beats small alone")
    lines = [head]
    if scratch is not None:
        lines.append(f"{'scratch':<26} {scratch.final_val_loss:8.4f} {'':>8} {'':>8} "
                     f"{scratch.tokens_per_param:9.0f}")
    for r in rows:
        dl = "" if r["delta_loss"] is None else f"{r['delta_loss']:+.4f}"
        lines.append(f"{r['name']:<26} {r['val_loss']:8.4f} {pct(r['speedup_flops']):>8} "
                     f"{pct(r['speedup_tokens']):>8} {r['tokens_per_param']:9.0f} {dl:>12}  "
                     f"{'yes' if r['beats_small'] else 'NO'}")
    seen = set()
    for r in rows:
        if r["small"] not in seen:
            seen.add(r["small"])
            lines.append(f"{r['small']:<26} {r['small_val_loss']:8.4f} {pct(r['small_speedup_flops']):>8} "
                         f"{'':>8} {r['small_tokens_per_param']:9.0f}")
    lines.append("speedup: FLOPs (and tokens) scratch needs for its final loss / what the run needs, "
                 "minus 1; 'never': the run never reached it.")
    return "\n".join(lines)


def format_preservation(rows: list[dict[str, Any]]) -> str:
    """Function preservation measured at the growth point: the logits' largest change on a
    validation batch, the loss change there, and the validation loss just before and just
    after growth (same batches, so a preserving operator shows no jump)."""
    lines = [f"{'run':<26} {'claims':>6} {'max|Δlogits|':>12} {'Δloss':>8} {'val before':>10} "
             f"{'val after':>9}"]
    for r in rows:
        dl = "" if r["delta_loss"] is None else f"{r['delta_loss']:+.4f}"
        lines.append(f"{r['name']:<26} {'yes' if r['claims_preservation'] else 'no':>6} "
                     f"{r['max_abs_logits']:12.2e} {dl:>8} {r['val_loss_before_growth']:10.4f} "
                     f"{r['val_loss_after_growth']:9.4f}")
    return "\n".join(lines)


def verdict(row: dict[str, Any], scratch: Record) -> str:
    """What one grown run's numbers say, in words, honest reference first."""
    deserves = scratch.final_val_loss < row["small_val_loss"]
    parts = [f"The target {'beats' if deserves else 'LOSES TO'} the small model trained alone on "
             f"the same budget ({scratch.final_val_loss:.4f} vs {row['small_val_loss']:.4f} at "
             f"{scratch.tokens_per_param:.0f} vs {row['small_tokens_per_param']:.0f} tokens/param)."]
    if not deserves:
        parts.append("It does not deserve its size at this budget, so a speedup over scratch says "
                     "nothing about growth: raise tokens_per_param.")
    if row["speedup_flops"] is None:
        parts.append(f"{row['name']} never reached scratch's final loss.")
    else:
        parts.append(f"{row['name']} reaches scratch's final loss with {row['speedup_flops']:+.0%} "
                     f"speedup in FLOPs ({row['speedup_tokens']:+.0%} in tokens) and "
                     f"{'beats' if row['beats_small'] else 'does not beat'} the small model alone.")
    return " ".join(parts)


def best(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The row with the largest FLOPs speedup among those that reached scratch's loss."""
    reached = [r for r in rows if r["speedup_flops"] is not None]
    return max(reached, key=lambda r: r["speedup_flops"], default=None)


def best_by_factor(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any] | None]:
    """For each growth factor, the growth point with the largest speedup (None: none reached)."""
    out: dict[str, dict[str, Any] | None] = {}
    for g in sorted({r["factor"] for r in rows}):
        top = best([r for r in rows if r["factor"] == g])
        out[f"{g:g}"] = None if top is None else {"grow_fraction": top["grow_fraction"],
                                                  "speedup_flops": top["speedup_flops"]}
    return out


def width_verdict(width_rows: list[dict[str, Any]], depth_row: dict[str, Any]) -> dict[str, Any]:
    """The paper's width question: does any width operator beat scratch (there, none did),
    and does the best of them lose to depth growth (there, G_stack won by far)?"""
    top = best(width_rows)
    score = -math.inf if top is None else top["speedup_flops"]
    depth = -math.inf if depth_row["speedup_flops"] is None else depth_row["speedup_flops"]
    beats_scratch = any(r["beats_scratch"] for r in width_rows)
    loses = score < depth or top is None
    text = (f"Best width operator: {'none reached scratch' if top is None else top['name']} "
            f"({pct(None if top is None else score)}); depth {depth_row['name']}: "
            f"{pct(depth_row['speedup_flops'])}. Width growth "
            f"{'beats' if beats_scratch else 'does not beat'} scratch's final loss and "
            f"{'loses' if loses else 'does NOT lose'} to depth growth"
            f"{' (as in the paper).' if loses and not beats_scratch else '.'}")
    return {"best_width": None if top is None else top["name"], "width_beats_scratch": beats_scratch,
            "width_loses_to_depth": loses, "text": text}


def headline(row: dict[str, Any], scratch: Record) -> dict[str, Any]:
    """The three-run comparison in a few numbers (what `make demo` prints)."""
    return {"speedup_flops": row["speedup_flops"], "speedup_tokens": row["speedup_tokens"],
            "reason": row["reason"], "target_beats_small": scratch.final_val_loss < row["small_val_loss"],
            "grown_beats_small": row["beats_small"], "grown_beats_scratch": row["beats_scratch"]}


# ---- the growth-timing guideline --------------------------------------------------------------

# The paper's reference point: a 7B model, 300B tokens (C ~ 6 N D).
PAPER_POINT = {"name": "paper 7B, 300B tokens", "params": 7e9, "flops": 6 * 7e9 * 300e9}
# The paper's speedups at ~1.1B parameters (Table in Du et al. 2024), for side-by-side bars.
PAPER_SPEEDUPS: dict[tuple[str, str], float] = {
    ("direct", "depth"): 0.491, ("learn", "depth"): 0.486, ("zero", "depth"): 0.466,
    ("random", "depth"): -0.257, ("direct", "width"): -0.007, ("zero", "width"): -0.179,
    ("random", "width"): -0.138, ("learn", "width"): -0.154,
}


def guideline_fraction(n_params: float, flops_budget: float, factor: float = 4) -> float:
    """Share of the FLOPs budget the guideline's small-model tokens d would cost, with the
    small model at n_params / factor parameters and 6 FLOPs per parameter per token.
    Above 1 the guideline asks for more than the whole budget."""
    return guideline_tokens(n_params, flops_budget) * 6 * n_params / factor / flops_budget


def guideline_point(cfg: CompareConfig, factor: float | None = None, dim: str = "depth",
                    vocab_size: int | None = None) -> dict[str, Any]:
    """The guideline at this config's sizes, with exact FLOPs per token: the tokens d it
    asks the small model to train for, and what share of the budget that costs."""
    vocab_size = vocab_size or load_text(cfg.corpus).vocab_size
    p = plan(cfg, vocab_size)
    g = cfg.factor if factor is None else factor
    n = GPT(p.big).n_params()
    small = GPT(small_config(p.big, dim, g))
    d = guideline_tokens(n, p.budget_flops)
    small_fpt = small.flops_per_token(cfg.block_size)
    return {"params": n, "flops": p.budget_flops, "factor": g, "guideline_tokens": d,
            "budget_tokens_small": p.budget_flops / small_fpt,
            "budget_tokens_target": p.budget_flops / GPT(p.big).flops_per_token(cfg.block_size),
            "guideline_fraction": d * small_fpt / p.budget_flops}


def guideline_break_even(tokens_per_param: float = 80.0, factor: float = 4) -> float:
    """Target size N (parameters) below which the guideline asks for more than the whole
    budget, with C = 6 N * tokens_per_param * N (bisection on log N)."""
    lo, hi = 3.0, 13.0
    for _ in range(60):
        mid = (lo + hi) / 2
        n = 10**mid
        if guideline_fraction(n, 6 * n * tokens_per_param * n, factor) > 1:
            lo = mid
        else:
            hi = mid
    return 10 ** ((lo + hi) / 2)


# ---- the compute ledger ---------------------------------------------------------------------

def flops_breakdown(model_cfg: GPTConfig, seq_len: int | None = None) -> dict[str, float]:
    """Training FLOPs per token by part (forward + backward, 6 per weight per token, plus
    the attention scores): the terms GPT.flops_per_token adds up."""
    T = seq_len or model_cfg.block_size
    d, L, V = model_cfg.n_embd, model_cfg.n_layer, model_cfg.vocab_size
    assert model_cfg.mlp_hidden is not None
    parts = {
        "attention projections (q, k, v, o)": 6.0 * L * 4 * d * d,
        "MLP (SwiGLU gate, up, down)": 6.0 * L * 3 * d * model_cfg.mlp_hidden,
        "output head": 6.0 * d * V,
        "attention scores (QK^T, AV)": 12.0 * L * d * T,
    }
    parts["total"] = sum(parts.values())
    return parts


def counted_flops_per_token(model_cfg: GPTConfig, batch: int = 2) -> float:
    """FLOPs per token that torch's FlopCounterMode sees in one forward + backward pass
    (attention through the math backend, whose matmuls the counter can see)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    model = GPT(model_cfg)
    x = torch.randint(model_cfg.vocab_size, (batch, model_cfg.block_size))
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        _, loss = model(x, x)
        assert loss is not None
        loss.backward()
    return counter.get_total_flops() / x.numel()


def depth_ladder(cfg: CompareConfig) -> list[GPTConfig]:
    """Models of the target's width and 1/4, 1/2 and all of its depth (those that exist)."""
    target = plan(cfg, load_text(cfg.corpus).vocab_size).big
    depths = sorted({target.n_layer // g for g in (4, 2, 1) if target.n_layer % g == 0})
    return [dataclasses.replace(target, n_layer=n) for n in depths]


def crossover_flops(smaller: Record, bigger: Record) -> float | None:
    """The compute after which `bigger` keeps a lower validation loss than `smaller`
    (both curves as running minima, compared at `bigger`'s evaluations, `smaller`
    interpolated on log FLOPs); None if it never gets ahead for good."""
    import numpy as np

    def curve(rec: Record) -> tuple[np.ndarray, np.ndarray]:
        pts = [(h["flops"], h["val_loss"]) for h in rec.history if h["flops"] > 0]
        x = np.log10([p[0] for p in pts])
        return x, np.minimum.accumulate([p[1] for p in pts])

    xs, ys = curve(smaller)
    xb, yb = curve(bigger)
    ahead = yb < np.interp(xb, xs, ys)
    if not ahead[-1]:
        return None
    behind = np.nonzero(~ahead)[0]
    first = 0 if len(behind) == 0 else behind[-1] + 1
    return float(10 ** xb[first])


__all__ = [
    "COURSE_PRESETS", "PAPER_POINT", "PAPER_SPEEDUPS", "SMOKE", "Study", "Variant", "best",
    "best_by_factor", "headline",
    "counted_flops_per_token", "course_config", "crossover_flops", "depth_ladder", "flops_breakdown",
    "format_preservation", "format_rows", "grid", "guideline_break_even", "guideline_fraction", "guideline_point",
    "operators", "pick_preset", "save_results", "small_config", "stacking_ablation", "valid_factors",
    "verdict", "width_verdict",
]
