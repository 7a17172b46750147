"""`python -m growkit compare`: the default variant (StudyConfig.op in depth by factor) beside
scratch and its small model alone, over seeds, with their means and a verdict.

    result = compare(preset("cpu"), RunOptions(seeds=[0, 1, 2], cache_dir="runs"))
    print(result.table)

One seed's experiment is growkit.study.Study; this module trains each seed's three runs
(`train`), reads them back with the other seeds already finished in the same folder, and
summarises them (`Comparison`, whose `to_json()` is the command line's summary.json).
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from . import distributed
from .limits import flag_text, study_flags
from .record import Record, json_safe
from .runs import NotCached, RunOptions, seeds_in
from .settings import SettingError
from .speedup import pct, text_table
from .study import Row, Study, StudyConfig, Variant, small_config, train_runs


def checked_variant(cfg: StudyConfig) -> Variant:
    """The default variant (cfg.op in depth by cfg.factor), its operator and factor checked
    before anything trains."""
    try:
        variant = Variant(cfg.op, "depth", cfg.factor)
        operator = variant.operator
    except (ValueError, TypeError) as e:
        raise SettingError(f"StudyConfig.op={cfg.op!r}: {e} (e.g. --set op=stack)") from None
    big = cfg.model_config(cfg.small_layers * cfg.factor, 96)
    small_config(big, "depth", cfg.factor)
    if operator.extra_tokens is not None and cfg.learn_steps < 1:
        raise SettingError("StudyConfig.learn_steps must be >= 1 for op=learn: e.g. learn_steps=100.")
    return variant



@dataclass
class SeedResult:
    """One seed of `compare`: the default variant's row beside its scratch run."""

    seed: int
    row: Row
    scratch_val_loss: float
    scratch_tokens_per_param: float

    @property
    def target_beats_small(self) -> bool:
        return self.scratch_val_loss < self.row.small_val_loss

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "scratch_val_loss": self.scratch_val_loss, **self.row.to_dict(),
                "scratch_tokens_per_param": self.scratch_tokens_per_param,
                "target_beats_small": self.target_beats_small}


MEAN_KEYS = ("scratch_val_loss", "val_loss", "small_val_loss", "speedup_flops", "speedup_tokens")


@dataclass
class Comparison:
    """`compare`'s result: scratch, the default variant and its small model alone, per seed,
    with their means; `to_json()` is the CLI's summary.json."""

    config: dict[str, Any]
    per_seed: list[SeedResult]
    records: dict[int, list[Record]]  # seed -> [scratch, grown, small alone]
    flags: list[str] = field(default_factory=list)  # runs that cannot mean anything (growkit.limits)

    @property
    def seeds(self) -> list[int]:
        return [p.seed for p in self.per_seed]

    @property
    def mean(self) -> dict[str, float | None]:
        rows = [p.to_dict() for p in self.per_seed]
        return {k: statistics.fmean(v) if (v := [p[k] for p in rows if p[k] is not None]) else None
                for k in MEAN_KEYS}

    @property
    def threads(self) -> list[int]:
        # On a CPU the thread count is part of what a number means (sums split differently).
        return sorted({r.meta["threads"] for recs in self.records.values() for r in recs
                       if "threads" in r.meta})

    @property
    def table(self) -> str:
        return compare_table(self)

    def to_json(self) -> dict[str, Any]:
        return json_safe({"config": self.config, "seeds": self.seeds,
                          "per_seed": [p.to_dict() for p in self.per_seed], "mean": self.mean,
                          "threads": self.threads, "flags": self.flags, "table": self.table})


def train(cfg: StudyConfig, options: RunOptions) -> dict[int, Study]:
    """Train scratch, the default variant and its small model alone for every seed of
    options.seeds (runs already in options.cache_dir are read, not trained)."""
    variant = checked_variant(cfg)
    studies = {s: Study(cfg, s, options=options) for s in options.seeds}
    train_runs(list(studies.values()), [variant])
    return studies


def compare(cfg: StudyConfig, options: RunOptions | None = None, *, readonly: bool = False
            ) -> Comparison:
    """Scratch, the default variant (cfg.op in depth by cfg.factor) and its small model
    alone, for every seed of options.seeds, trained first (`train`; `readonly`: trains
    nothing, reads the finished runs in options.cache_dir), and for every other seed already
    finished there with these settings."""
    options = options or RunOptions()
    variant = checked_variant(cfg)
    studies = ({s: Study(cfg, s, options=options, readonly=True) for s in options.seeds}
               if readonly else train(cfg, options))
    # Seeds other processes finished into the same folder with the same settings join the
    # summary (read, never trained here): one process per seed still gives one summary.
    # (Rank 0's list under torchrun: every rank must ask the cache for the same runs.)
    others = distributed.broadcast(seeds_in(options.cache_dir, asdict(cfg)))
    for s in sorted(set(others) - set(studies)):
        other = Study(cfg, s, options=options, readonly=True)
        try:
            other.add(variant)
        except NotCached:
            continue  # still training elsewhere
        studies[s] = other
    per_seed, records = [], {}
    for s, study in sorted(studies.items()):
        scratch = study.scratch
        per_seed.append(SeedResult(s, study.row(variant), scratch.final_val_loss, scratch.tokens_per_param))
        records[s] = [scratch, study.add(variant), study.small_alone(variant)]
    flags = study_flags(next(iter(studies.values())), [variant])  # the same runs for every seed
    return Comparison(asdict(cfg), per_seed, records, flags)


def compare_table(result: Comparison) -> str:
    """Per seed: the three runs' final losses, the speedup, tokens per parameter; a verdict."""
    rows = [p.to_dict() for p in result.per_seed]
    body = [[p["seed"], f"{p['scratch_val_loss']:.4f}", f"{p['val_loss']:.4f}", f"{p['small_val_loss']:.4f}",
             pct(p["speedup_flops"], 1, p["reached_before_growth"]), pct(p["speedup_tokens"], 1),
             f"{p['scratch_tokens_per_param']:.0f}/{p['tokens_per_param']:.0f}/{p['small_tokens_per_param']:.0f}"]
            for p in rows]
    m = result.mean
    if len(rows) > 1:
        body.append(["mean", f"{m['scratch_val_loss']:.4f}", f"{m['val_loss']:.4f}",
                     f"{m['small_val_loss']:.4f}", pct(m["speedup_flops"], 1), pct(m["speedup_tokens"], 1), ""])
    head = ["seed", "scratch", "grown", "small", "speedup(FLOPs)", "speedup(tokens)",
            "tokens/param (scratch/grown/small)"]
    n = len(rows)
    lines = [text_table(head, body),
             f"runs: grown = {rows[0]['name']} from {rows[0]['small']}; params: target {rows[0]['params']:,}, "
             f"small {rows[0]['small_params']:,}. Validation loss (nats/char) at the end of an equal FLOPs budget.",
             f"target beats small alone in {sum(p['target_beats_small'] for p in rows)}/{n} seeds; grown beats "
             f"small alone in {sum(p['beats_small'] for p in rows)}/{n}; grown beats scratch in "
             f"{sum(p['beats_scratch'] for p in rows)}/{n}."]
    early = [p for p in rows if p["reached_before_growth"]]
    if early:
        lines.append("*: the small phase alone reached scratch's final loss, before growth; measured on "
                     "the grown model's own evaluations the speedup is "
                     + ", ".join(f"seed {p['seed']} {pct(p['speedup_flops_after_growth'], 1)}" for p in early) + ".")
    if not all(p["target_beats_small"] for p in rows):
        lines.append("The target model does not deserve its size at this budget: a speedup over scratch "
                     "says little here. Raise tokens_per_param.")
    if result.threads:
        lines.append(f"trained at {' and '.join(map(str, result.threads))} thread(s) per run.")
    if result.flags:
        lines.append(flag_text(result.flags))
    return "\n".join(lines)
