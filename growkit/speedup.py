"""Speedup, defined once.

The target is the scratch run's final validation loss. C(run) is the compute (FLOPs, or
tokens) a run needs to first reach that loss, read off its loss curve by interpolating
between evaluations on a log-compute axis and counting every phase (the small model's
compute included). Speedup = C_scratch / C_grown - 1, as in *Stacking Your Transformers*.

Validation losses are noisy, so "reached" means the best loss seen so far reached the
target: the curve used is the running minimum of the evaluations.

Counting the small phase means a grown run can "reach" the target before it has grown, when
the small model alone beats the target's final loss on part of the budget. That is no growth
speedup, so a Speedup also says whether it happened (`reached_before_growth`) and gives the
speedup measured on the grown model's own evaluations only (`flops_after_growth`): its best
loss restarts at the growth step, its compute still counts every phase.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .record import Record

PHASES = ("all", "before_growth", "after_growth")


def compute_to_reach(record: Record, target: float, axis: str = "flops",
                     phases: str = "all") -> float | None:
    """Compute (on `axis`: 'flops' or 'tokens') at which the run's best validation loss
    first reaches `target`, interpolated; None when it never does. `phases` picks the
    evaluations read: 'all', 'before_growth' (every phase but the final model's) or
    'after_growth' (the final model's only; a run that never grew is all final model)."""
    if phases not in PHASES:
        raise ValueError(f"phases={phases!r}: use one of {PHASES}.")
    final = record.history[-1]["phase"] if record.history else 0
    history = [h for h in record.history
               if phases == "all" or (h["phase"] == final) == (phases == "after_growth")]
    xs, best, lowest = [], [], math.inf
    for h in history:
        lowest = min(lowest, h["val_loss"])
        xs.append(float(h[axis]))
        best.append(lowest)
    for i, loss in enumerate(best):
        if loss > target:
            continue
        if i == 0 or best[i - 1] == loss:
            return xs[i]
        frac = (best[i - 1] - target) / (best[i - 1] - loss)
        x0, x1 = xs[i - 1], xs[i]
        if x0 <= 0 or x1 <= 0:  # the evaluation at initialisation sits at zero compute
            return x0 + frac * (x1 - x0)
        return 10 ** (math.log10(x0) + frac * (math.log10(x1) - math.log10(x0)))
    return None


@dataclass
class Speedup:
    target_loss: float
    scratch_flops: float
    scratch_tokens: float
    grown_flops: float | None
    grown_tokens: float | None
    grown_best_loss: float
    reason: str | None = None
    # The small phase alone reached the target: the speedup above is not growth's doing.
    reached_before_growth: bool = False
    grown_flops_after_growth: float | None = None

    @property
    def reached(self) -> bool:
        return self.grown_flops is not None

    @property
    def flops(self) -> float | None:
        """C_scratch / C_grown - 1 on FLOPs; None when the grown run never got there."""
        return None if self.grown_flops is None else self.scratch_flops / self.grown_flops - 1

    @property
    def tokens(self) -> float | None:
        return None if self.grown_tokens is None else self.scratch_tokens / self.grown_tokens - 1

    @property
    def flops_after_growth(self) -> float | None:
        """The FLOPs speedup counting only the grown model's evaluations (its compute
        still includes the small phase); None when the grown model never got there."""
        g = self.grown_flops_after_growth
        return None if g is None else self.scratch_flops / g - 1

    def to_dict(self) -> dict:
        return {**asdict(self), "reached": self.reached, "flops_speedup": self.flops,
                "tokens_speedup": self.tokens, "flops_speedup_after_growth": self.flops_after_growth}

    def __str__(self) -> str:
        if not self.reached:
            return f"no speedup: {self.reason}"
        text = (f"speedup {self.flops:+.1%} in FLOPs, {self.tokens:+.1%} in tokens "
                f"(target loss {self.target_loss:.4f})")
        if self.reached_before_growth:
            text += (f"; reached BEFORE growth, by the small phase alone: after growth "
                     f"{pct(self.flops_after_growth, 1)}")
        return text


def validation_set(record: Record) -> dict[str, object]:
    """What a record's validation losses were measured on: the corpus, the seed that draws
    the validation batches, their number, size and length. Losses on different sets are
    different targets."""
    out: dict[str, object] = {}
    for key in ("corpus", "seed"):
        if key in record.meta:
            out[key] = record.meta[key]
    if record.phases:
        train = record.phases[-1].get("train") or {}
        model = record.phases[-1].get("model") or {}
        for key in ("eval_batches", "batch_size"):
            if key in train:
                out[key] = train[key]
        if "block_size" in model:
            out["block_size"] = model["block_size"]
    return out


def check_comparable(scratch: Record, grown: Record) -> None:
    """ValueError unless both records measured validation loss on the same data."""
    a, b = validation_set(scratch), validation_set(grown)
    differ = [k for k in a if k in b and a[k] != b[k]]
    if differ:
        diffs = ", ".join(f"{k} {a[k]!r} vs {b[k]!r}" for k in differ)
        raise ValueError(f"cannot compare {scratch.name!r} with {grown.name!r}: their validation "
                         f"losses were measured on different data ({diffs}), so one's loss is no "
                         "target for the other. Compare runs of the same corpus, seed and "
                         "evaluation settings.")


def speedup(scratch: Record, grown: Record) -> Speedup:
    """Speedup of `grown` over the `scratch` baseline, in FLOPs and in tokens. Refuses
    records measured on different data; never divides by zero (no speedup, with the
    reason, when the grown run starts at or below the target)."""
    check_comparable(scratch, grown)
    for rec in (scratch, grown):
        if not rec.history:
            raise ValueError(f"record {rec.name!r} has no evaluations: it has not trained yet.")
    target = scratch.final_val_loss
    s_flops = compute_to_reach(scratch, target, "flops")
    s_tokens = compute_to_reach(scratch, target, "tokens")
    assert s_flops is not None and s_tokens is not None  # scratch reaches its own final loss
    g_flops = compute_to_reach(grown, target, "flops")
    g_tokens = compute_to_reach(grown, target, "tokens")
    finite = [v for v in grown.series("val_loss") if v is not None and math.isfinite(v)]
    best = min(finite) if finite else math.nan
    reason = None
    if g_flops is None:
        reason = (f"{grown.name} never reached the scratch run's final validation loss "
                  f"{target:.4f} (its best was {best:.4f} after {grown.total_flops:.3g} FLOPs)")
    elif g_flops <= 0 or not g_tokens:
        reason = (f"{grown.name} was at or below the scratch run's final validation loss {target:.4f} "
                  "at its first evaluation, before spending any compute: scratch ended no better "
                  "than where this run started, so no ratio of compute means anything")
        g_flops = g_tokens = None
    after = compute_to_reach(grown, target, "flops", "after_growth")
    return Speedup(target, s_flops, s_tokens, g_flops, g_tokens, best, reason,
                   reached_before_growth=compute_to_reach(grown, target, "flops", "before_growth") is not None,
                   grown_flops_after_growth=after if after else None)


def guideline_tokens(n_params: float, flops_budget: float) -> float:
    """The paper's growth-timing guideline: tokens d to train the small model for,
    log10(d) = 0.88 log10(N) + 163.27 / log10(C) - 5.74 (N target parameters, C FLOPs)."""
    return 10 ** (0.88 * math.log10(n_params) + 163.27 / math.log10(flops_budget) - 5.74)


def pct(x: float | None, digits: int = 0, before_growth: bool = False) -> str:
    """A speedup as the tables print it: signed percent, or 'never' when not reached; a '*'
    marks one the small phase earned alone, before growth."""
    return "never" if x is None else f"{x:+.{digits}%}" + ("*" if before_growth else "")


def text_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Columns aligned under their headers: the first left, the others right. Floats are
    printed as given: format them first."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells if i < len(r)) for i in range(len(headers))]
    lines = []
    for r in cells:
        parts = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


# ---- the paper's growth-timing guideline, and its reference numbers --------------------------

# The paper's reference point: a 7B model, 300B tokens (C ~ 6 N D).
PAPER_POINT = {"name": "paper 7B, 300B tokens", "params": 7e9, "flops": 6 * 7e9 * 300e9}
# The paper's speedups at ~1.1B parameters (Du et al. 2024), keyed (operator, direction).
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
