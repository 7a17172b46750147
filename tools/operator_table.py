"""The operator table: every atomic growth operator, in depth and in width, with the
stacking ablations, against scratch and the small models alone, over several seeds, on one
FLOPs budget — the measurement *Stacking Your Transformers* reports at ~1.1B parameters,
at the course's CPU size:

    python tools/operator_table.py --preset cpu --seeds 0 1 2 --out runs/operators
    python tools/operator_table.py --preset cpu --seeds 0 --threads 1 &  # a 2nd core, same cache
    python tools/operator_table.py --preset cpu-x2 --parts width ablation --seeds 0 1 2 --workers 2

The x2 comparisons (width, the layer orders) mean something at the cpu-x2 preset, not at cpu,
where the x2 small models alone beat the target (README, "Regimes").

Each seed is a `growkit.study.Study` whose finished runs are cached in `out/cache`, so an
interrupted table resumes where it stopped and seeds can run in parallel processes. The
summary (per variant: final validation loss mean and spread, FLOPs speedup over scratch on
each seed, the paper's number beside it) goes to `out/table.txt` and `out/table.json`
after every seed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from growkit.record import write_json
from growkit.speedup import PAPER_SPEEDUPS, pct, text_table
from growkit.study import Row, Study, Variant, train_runs

PARTS = ("depth", "width", "ablation")


def variants(study: Study, parts: tuple[str, ...] = PARTS) -> list[Variant]:
    """The eight atomic operators (depth at the config's factor, width x2), then whole-model
    stacking against interpolation and partial stacking (Study.stacking_ablation); `parts`
    picks some of the three, e.g. ("width", "ablation") at the cpu-x2 preset."""
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise ValueError(f"unknown parts {unknown}: choose from {', '.join(PARTS)}.")
    chosen = {"depth": study.operators("depth", study.cfg.factor), "width": study.operators("width", 2),
              "ablation": study.stacking_ablation()}
    out: list[Variant] = []
    for part in PARTS:  # one run once, in the table's order (x2 G_stack is also the ablation's stack)
        if part in parts:
            out += [v for v in chosen[part] if v.name not in {o.name for o in out}]
    return out


def paper_speedup(row: Row) -> float | None:
    if row.options.get("order") not in (None, "stack"):
        return None  # the paper reports its ablations as curves, not one number
    return PAPER_SPEEDUPS.get((row.op, row.dim))


def mean_std(xs: list[float]) -> tuple[float, float]:
    return statistics.fmean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0


def aggregate(per_seed: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Mean and spread over seeds, per run; speedups listed per seed (None: never reached).
    `per_seed[seed]` holds "describe" (Study.describe()), "alone" (Study.summary()'s: model
    name -> its numbers) and "rows" (the Study's Rows)."""
    seeds = sorted(per_seed)
    first = per_seed[seeds[0]]
    alone = []
    for name, numbers in first["alone"].items():
        mean, std = mean_std([per_seed[s]["alone"][name]["val_loss"] for s in seeds if name in per_seed[s]["alone"]])
        alone.append({"name": name, "val_loss_mean": mean, "val_loss_std": std, "params": numbers["params"],
                      "tokens_per_param": numbers["tokens_per_param"]})
    rows = []
    for row in first["rows"]:
        found: list[Row] = [r for s in seeds for r in per_seed[s]["rows"] if r.name == row.name]
        mean, std = mean_std([r.val_loss for r in found])
        speedups = [r.speedup_flops for r in found]
        rows.append({
            "name": row.name, "op": row.op, "dim": row.dim, "factor": row.factor, "small": row.small,
            "val_loss_mean": mean, "val_loss_std": std, "seeds": len(found), "speedup_flops": speedups,
            "reached_before_growth": [r.reached_before_growth for r in found],
            # A seed that never reached scratch's loss makes a mean meaningless: none is given.
            "speedup_flops_mean": None if None in speedups else statistics.fmean(speedups),
            "beats_scratch": sum(r.beats_scratch for r in found), "beats_small": sum(r.beats_small for r in found),
            "max_abs_logits": max(r.max_abs_logits for r in found),
            "tokens_per_param": row.tokens_per_param, "paper_speedup": paper_speedup(row),
        })
    return {"seeds": seeds, "describe": first["describe"], "alone": alone, "rows": rows}


def format_table(table: dict[str, Any]) -> str:
    headers = ["run", "val loss", "tok/param", "speedup (mean)", "per seed", "beats scratch", "paper 1.1B"]
    lines = [[a["name"], f"{a['val_loss_mean']:.4f}±{a['val_loss_std']:.4f}", f"{a['tokens_per_param']:.0f}",
              "", "", "", ""] for a in table["alone"]]
    for r in table["rows"]:
        per_seed = " ".join(pct(x, 1, early) for x, early in zip(r["speedup_flops"], r["reached_before_growth"]))
        paper = "" if r["paper_speedup"] is None else pct(r["paper_speedup"], 1)
        lines.append([r["name"], f"{r['val_loss_mean']:.4f}±{r['val_loss_std']:.4f}", f"{r['tokens_per_param']:.0f}",
                      pct(r["speedup_flops_mean"], 1), per_seed, f"{r['beats_scratch']}/{r['seeds']}", paper])
    return "\n".join([
        table["describe"], f"seeds {table['seeds']}", text_table(headers, lines),
        "speedup = C_scratch / C_grown - 1 in FLOPs to reach scratch's final validation loss "
        "(mean over seeds only when every seed reached it); ± is the std over seeds; *: reached before "
        "growth, by the small phase alone."])


def run(preset: str, seeds: list[int], out: Path, progress: bool = False, parts: tuple[str, ...] = PARTS,
        workers: int = 1, **overrides: Any) -> dict[str, Any]:
    studies = [Study.from_preset(preset, seed=seed, cache_dir=out / "cache", progress=progress, **overrides)
               for seed in seeds]
    if workers != 1:  # every seed's runs at once, one thread each (growkit.runs checks the count)
        train_runs(studies, variants(studies[0], parts), workers)
    per_seed: dict[int, dict[str, Any]] = {}
    for study in studies:
        seed = study.seed
        chosen = variants(study, parts)
        for v in chosen:  # one at a time, so the log shows progress and the cache fills as it goes
            t0 = time.perf_counter()
            study.add(v)
            print(f"seed {seed} {v.name}: {time.perf_counter() - t0:.0f} s", flush=True)
        summary = {**study.summary(), "describe": study.describe()}
        write_json(out / f"seed{seed}.json", summary)
        per_seed[seed] = {"describe": summary["describe"], "alone": summary["alone"],
                          "rows": [study.row(v) for v in chosen]}
        table = aggregate(per_seed)
        write_json(out / "table.json", table)
        (out / "table.txt").write_text(format_table(table) + "\n")
    return aggregate(per_seed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/operator_table.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu",
                        help="smoke (seconds; numbers mean nothing), cpu, cpu-x2, gpu, t4, auto")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tokens-per-param", type=float, default=None,
                        help="the target's tokens per parameter (sets the budget); default: the preset's")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (1 per process when "
                        "running seeds side by side)")
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS,
                        help="which operators: depth (at the preset's factor), width (x2), ablation (layer orders)")
    parser.add_argument("--workers", type=int, default=1, help="train in N one-thread processes (2 on 2 cores)")
    parser.add_argument("--out", default="runs/operators")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = {} if args.tokens_per_param is None else {"tokens_per_param": args.tokens_per_param}
    t0 = time.perf_counter()
    table = run(args.preset, args.seeds, Path(args.out), parts=tuple(args.parts), workers=args.workers,
                **overrides)
    print(format_table(table))
    print(f"\nwall time {time.perf_counter() - t0:.0f} s; results in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
