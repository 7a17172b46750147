"""Growing in stages, the optimizer across growth, and growth timing, over seeds: the
measurement behind notebook 08 and the multi-stage rows of docs/results.md.

    python tools/stage_sweep.py --seeds 0 1 2 --workers 2 --cache /tmp/stages_runs

At the `cpu` preset (1 -> 4 blocks at width 48, 40 tokens per target parameter, where the
target beats the 1-block model alone by more than twice the seeds' spread), every run on the
same FLOPs, one thread per run:

    stages     one-stage G_stack ×4 @5%, stack ×2 -> ×2 @5%/20% (growkit.stages.TWO_STAGE),
               gradual stacking 1->2->3->4 @5/10/20% (growkit.stages.GRADUAL)
    optimizer  one-stage G_stack ×4 @5% with fresh or carried AdamW moments, with the
               course's re-warmup of 20 steps or none (growkit.stages.OPTIMIZER_SETTINGS)
    timing     one-stage G_stack ×4 at 2.5, 10 and 20% of the budget (5% is in `stages`)

Runs are cached in --cache (growkit.runs.RunCache: an interrupted sweep resumes, notebook 08
pointed at the folder reads them); jobs are handed out seed by seed in the order of --parts,
so the first seed's comparisons finish first; `--only TEXT...` keeps the comparisons whose
names contain one of the texts (scratch and one-stage G_stack are trained for them too: every
speedup needs them). The summary (per comparison and seed: final
validation loss, FLOPs speedup over scratch and over one-stage G_stack, and mean ± std)
goes to <cache>/stage_sweep.json and <cache>/stage_sweep.txt.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from growkit.record import write_json
from growkit.runs import NotCached, RunCache, RunOptions, run_jobs
from growkit.speedup import speedup, text_table
from growkit.stages import GRADUAL, OPTIMIZER_SETTINGS, TWO_STAGE, flops_ratio
from growkit.study import Study, Variant, preset

PARTS = ("stages", "optimizer", "timing")
ONE_STAGE = Variant("stack", "depth", 4)  # at the preset's grow_fraction, 5%: notebook 00's run


@dataclass
class Comparison:
    """One line of the sweep: a variant trained under some StudyConfig overrides."""

    name: str
    part: str
    variant: Variant
    overrides: dict[str, Any]
    tier: int = 0  # trained in order of tier, then seed: what the notebook's table needs first


def comparisons(parts: tuple[str, ...] = PARTS) -> list[Comparison]:
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise ValueError(f"unknown parts {unknown}: choose from {', '.join(PARTS)}.")
    out = []
    if "stages" in parts:
        out += [Comparison("one-stage G_stack ×4 @5%", "stages", ONE_STAGE, {}),
                Comparison(TWO_STAGE.name, "stages", Variant("stack", "depth", 4, schedule=TWO_STAGE), {}),
                Comparison(GRADUAL.name, "stages", Variant("stack", "depth", 4, schedule=GRADUAL), {})]
    if "optimizer" in parts:
        tiers = {"fresh, re-warmup": 0, "carried, re-warmup": 0, "fresh, no re-warmup": 1}
        out += [Comparison(f"G_stack ×4 @5%, {k}", "optimizer", ONE_STAGE, o, tiers.get(k, 3))
                for k, o in OPTIMIZER_SETTINGS.items()]
    if "timing" in parts:
        out += [Comparison(f"G_stack ×4 @{f:.1%}", "timing", Variant("stack", "depth", 4, f), {},
                           2 if f < 0.2 else 3) for f in (0.025, 0.1, 0.2)]
    return out


def study_for(seed: int, overrides: dict[str, Any], cache: Path, name: str = "cpu",
              readonly: bool = False) -> Study:
    """The seed's study under `overrides` (`readonly`: finished runs only, NotCached else)."""
    options = RunOptions(cache_dir=cache, progress=False)
    return Study(preset(name, **overrides), seed, preset=name, options=options, readonly=readonly)


def train(chosen: list[Comparison], seeds: list[int], cache: Path, workers: int, name: str,
          alone: bool = True) -> None:
    """Every run the comparisons need, in `workers` one-thread processes: by tier (what the
    notebook's table needs first), then seed by seed."""
    jobs, seen = [], set()
    order = [(seed, c) for tier in sorted({c.tier for c in chosen}) for seed in seeds for c in chosen
             if c.tier == tier]
    # One-stage G_stack first at each seed: every line's "vs one-stage G_stack" needs it.
    base = [(seed, Comparison("one-stage", "stages", ONE_STAGE, {})) for seed in seeds]
    for seed, c in base + order:
        for job in study_for(seed, c.overrides, cache, name).jobs([c.variant]):
            key = RunCache.key(job.spec)
            if key not in seen:
                seen.add(key)
                jobs.append(job)
    # The small model alone of a later seed last: the honest reference is measured on seed 0
    # here and over seeds 0-2 in docs/results.md (the same runs), the comparisons need the rest.
    jobs.sort(key=lambda job: job.name.endswith(" alone") and job.spec["seed"] != seeds[0])
    if not alone:  # no speedup needs it; its loss is then left blank in the summary
        jobs = [job for job in jobs if not job.name.endswith(" alone")]
    todo = RunCache(cache).untrained(jobs)
    print(f"{len(todo)} of {len(jobs)} runs to train, {workers} at a time", flush=True)
    run_jobs(todo, workers, progress=True)


def numbers(c: Comparison, seed: int, cache: Path, name: str) -> dict[str, Any] | None:
    """One comparison at one seed, read from the cache; None while its grown run, scratch or
    one-stage G_stack is missing (the small model alone may be: its loss is then None)."""
    try:
        study = study_for(seed, c.overrides, cache, name, readonly=True)
        run, scratch = study.train_grown(c.variant), study.scratch
        one_stage = study_for(seed, {}, cache, name, readonly=True).train_grown(ONE_STAGE)
    except NotCached:
        return None
    try:
        small: float | None = study.small_alone(c.variant).final_val_loss
    except NotCached:
        small = None
    return {"val_loss": run.final_val_loss, "speedup_flops": speedup(scratch, run).flops,
            "speedup_vs_one_stage": flops_ratio(one_stage, run), "scratch": scratch.final_val_loss,
            "small_alone": small, "grow_fraction": run.meta.get("grow_fraction"), "wall_s": run.final["wall_s"]}


def mean_std(xs: list[float | None]) -> tuple[float | None, float | None]:
    got = [x for x in xs if x is not None]
    if len(got) < len(xs) or not got:
        return None, None  # a seed that never reached the target: no mean of speedups
    return statistics.fmean(got), statistics.stdev(got) if len(got) > 1 else 0.0


def summarise(chosen: list[Comparison], seeds: list[int], cache: Path, name: str) -> dict[str, Any]:
    """Per comparison, the seeds whose runs are all there, and their mean ± std."""
    out: dict[str, Any] = {"preset": name, "seeds": seeds, "comparisons": []}
    for c in chosen:
        found = {seed: numbers(c, seed, cache, name) for seed in seeds}
        per_seed = {seed: v for seed, v in found.items() if v is not None}
        if not per_seed:
            continue
        line = {"name": c.name, "part": c.part, "overrides": c.overrides, "per_seed": per_seed}
        for key in ("val_loss", "speedup_flops", "speedup_vs_one_stage", "scratch"):
            line[key] = mean_std([v[key] for v in per_seed.values()])
        line["small_alone"] = mean_std([v["small_alone"] for v in per_seed.values() if v["small_alone"] is not None])
        out["comparisons"].append(line)
    return out


def fmt(ms: tuple[float | None, float | None], percent: bool = False) -> str:
    m, s = ms
    if m is None:
        return "never (some seed)"
    return f"{m:+.1%} ± {s:.1%}" if percent else f"{m:.4f} ± {s:.4f}"


def table(summary: dict[str, Any]) -> str:
    body = []
    for c in summary["comparisons"]:
        per = f"(seeds {','.join(map(str, c['per_seed']))}) " + " ".join(
            "never" if v["speedup_flops"] is None else f"{v['speedup_flops']:+.1%}" for v in c["per_seed"].values())
        body.append([c["name"], fmt(c["val_loss"]), fmt(c["speedup_flops"], True), per,
                     fmt(c["speedup_vs_one_stage"], True)])
    first = summary["comparisons"][0]
    head = ["run", "val loss", "speedup vs scratch", "per seed", "vs one-stage G_stack"]
    return (text_table(head, body) + f"\nscratch {fmt(first['scratch'])}, 1L×48 alone "
            f"{fmt(first['small_alone'])} (the seeds of the first line that have it)")


def markdown(summary: dict[str, Any]) -> str:
    """The summary as the docs' table: mean ± std over the seeds each line has, per seed."""
    def pm(ms: tuple[float | None, float | None], percent: bool = False) -> str:
        m, s = ms
        if m is None:
            return "never (some seed)"
        return f"{m:+.1%} ± {s:.1%}" if percent else f"{m:.4f} ± {s:.4f}"

    lines = ["| run | seeds | val loss | speedup vs scratch | per seed | vs one-stage G_stack | per seed |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for c in summary["comparisons"]:
        per = c["per_seed"].values()
        each = [" ".join("never" if v[k] is None else f"{v[k]:+.1%}" for v in per)
                for k in ("speedup_flops", "speedup_vs_one_stage")]
        lines.append(f"| {c['name']} | {','.join(map(str, c['per_seed']))} | {pm(c['val_loss'])} | "
                     f"{pm(c['speedup_flops'], True)} | {each[0]} | "
                     f"{pm(c['speedup_vs_one_stage'], True)} | {each[1]} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=Path("runs/stages"))
    ap.add_argument("--preset", default="cpu", help="cpu (the measurement); smoke to check the tool runs")
    ap.add_argument("--only", nargs="+", default=None, metavar="TEXT",
                    help="only the comparisons whose names contain one of these, e.g. 'carried, no' '@20'")
    ap.add_argument("--no-alone", action="store_true", help="train no small model alone (no speedup needs it)")
    ap.add_argument("--summary-only", action="store_true", help="train nothing; summarise what is there")
    args = ap.parse_args(argv)
    chosen = [c for c in comparisons(tuple(args.parts))
              if args.only is None or any(text in c.name for text in args.only)]
    if not chosen:
        ap.error(f"--only {args.only} matches no comparison: names are "
                 + "; ".join(c.name for c in comparisons(tuple(args.parts))))
    started = time.perf_counter()
    if not args.summary_only:
        train(chosen, args.seeds, args.cache, args.workers, args.preset, not args.no_alone)
    summary = summarise(chosen, args.seeds, args.cache, args.preset)
    summary["wall_s"] = time.perf_counter() - started
    write_json(args.cache / "stage_sweep.json", summary)
    text = table(summary)
    (args.cache / "stage_sweep.txt").write_text(text + "\n")
    (args.cache / "stage_sweep.md").write_text(markdown(summary) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
