"""The operator table: every atomic growth operator, in depth and in width, with the
stacking ablations, against scratch and the small models alone, over several seeds, on one
FLOPs budget — the measurement *Stacking Your Transformers* reports at ~1.1B parameters,
at the course's CPU size:

    python -m growkit.operator_table --preset cpu --seeds 0 1 2 --out runs/operators
    python -m growkit.operator_table --preset cpu --seeds 0 --out runs/operators &  # 2nd core

Each seed is a `Study` (growkit.sweep) whose finished runs are cached in `out/cache`, so an
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

from .record import atomic_write_text
from .speedup import pct
from .sweep import PAPER_SPEEDUPS, Study, Variant, course_config, operators, save_results, stacking_ablation


def variants(cfg: Any, smoke: bool = False) -> list[Variant]:
    """The eight atomic operators (depth at the config's factor, width x2), then whole-model
    stacking against interpolation and partial stacking at the factor that leaves a small
    model of at least two blocks (where the layer orders differ)."""
    return [*operators("depth", cfg.factor, smoke), *operators("width", 2, smoke), *stacking_ablation(cfg)]


def paper_speedup(row: dict[str, Any]) -> float | None:
    if row["options"].get("order") not in (None, "stack"):
        return None  # the paper reports its ablations as curves, not one number
    return PAPER_SPEEDUPS.get((row["op"], row["dim"]))


def aggregate(per_seed: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Mean and spread over seeds, per run; speedups listed per seed (None: never reached)."""
    def stats(xs: list[float]) -> tuple[float, float]:
        return statistics.fmean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0

    seeds = sorted(per_seed)
    first = per_seed[seeds[0]]
    alone = []
    for name in first["alone"]:
        losses = [per_seed[s]["alone"][name]["val_loss"] for s in seeds if name in per_seed[s]["alone"]]
        mean, std = stats(losses)
        alone.append({"name": name, "val_loss_mean": mean, "val_loss_std": std, "seeds": len(losses),
                      "params": first["alone"][name]["params"],
                      "tokens_per_param": first["alone"][name]["tokens_per_param"]})
    rows = []
    for row in first["rows"]:
        name = row["name"]
        found = [r for s in seeds for r in per_seed[s]["rows"] if r["name"] == name]
        mean, std = stats([r["val_loss"] for r in found])
        speedups = [r["speedup_flops"] for r in found]
        reached = [x for x in speedups if x is not None]
        rows.append({
            "name": name, "op": row["op"], "dim": row["dim"], "factor": row["factor"],
            "small": row["small"], "val_loss_mean": mean, "val_loss_std": std, "seeds": len(found),
            "speedup_flops": speedups,
            "speedup_flops_mean": statistics.fmean(reached) if len(reached) == len(found) else None,
            "beats_scratch": sum(r["beats_scratch"] for r in found),
            "beats_small": sum(r["beats_small"] for r in found),
            "max_abs_logits": max(r["max_abs_logits"] for r in found),
            "tokens_per_param": row["tokens_per_param"], "paper_speedup": paper_speedup(row),
        })
    return {"seeds": seeds, "describe": first["describe"], "alone": alone, "rows": rows}


def format_table(table: dict[str, Any]) -> str:
    lines = [table["describe"], f"seeds {table['seeds']}",
             f"{'run':<22} {'val loss':>15} {'speedup (mean)':>14}  {'per seed':<28} "
             f"{'beats scratch':>13} {'paper 1.1B':>10}"]
    for a in table["alone"]:
        lines.append(f"{a['name']:<22} {a['val_loss_mean']:8.4f}±{a['val_loss_std']:.4f}"
                     f" {'':>14}  {'':<28} {'':>13} {'':>10}  ({a['tokens_per_param']:.0f} tok/param)")
    for r in table["rows"]:
        per_seed = " ".join(pct(x, 1) for x in r["speedup_flops"])
        paper = "" if r["paper_speedup"] is None else pct(r["paper_speedup"], 1)
        lines.append(f"{r['name']:<22} {r['val_loss_mean']:8.4f}±{r['val_loss_std']:.4f}"
                     f" {pct(r['speedup_flops_mean'], 1):>14}  {per_seed:<28} "
                     f"{r['beats_scratch']:>9}/{r['seeds']:<3} {paper:>10}")
    lines.append("speedup = C_scratch / C_grown - 1 in FLOPs to reach scratch's final validation loss "
                 "(mean over seeds only when every seed reached it); ± is the std over seeds.")
    return "\n".join(lines)


def run(preset: str, seeds: list[int], out: Path, smoke: bool = False, progress: bool = False,
        **overrides: Any) -> dict[str, Any]:
    cfg = course_config(preset, smoke=smoke, **overrides)
    chosen = variants(cfg, smoke)
    per_seed: dict[int, dict[str, Any]] = {}
    for seed in seeds:
        study = Study(cfg, seed=seed, cache_dir=out / "cache", progress=progress, preset=preset)
        for v in chosen:  # one at a time, so the log shows progress and the cache fills as it goes
            t0 = time.perf_counter()
            study.add(v)
            print(f"seed {seed} {v.name}: {time.perf_counter() - t0:.0f} s", flush=True)
        summary = study.summary()
        per_seed[seed] = {**summary, "describe": study.describe()}
        save_results(out / f"seed{seed}.json", per_seed[seed])
        table = aggregate(per_seed)
        save_results(out / "table.json", table)
        atomic_write_text(out / "table.txt", format_table(table) + "\n")
    return aggregate(per_seed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m growkit.operator_table", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tokens-per-param", type=float, default=None,
                        help="the target's tokens per parameter (sets the budget); default: the preset's")
    parser.add_argument("--smoke", action="store_true", help="seconds-sized runs (numbers mean nothing)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (1 per process when "
                        "running seeds side by side)")
    parser.add_argument("--out", default="runs/operators")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = {} if args.tokens_per_param is None else {"tokens_per_param": args.tokens_per_param}
    t0 = time.perf_counter()
    table = run(args.preset, args.seeds, Path(args.out), smoke=args.smoke, **overrides)
    print(format_table(table))
    print(f"\nwall time {time.perf_counter() - t0:.0f} s; results in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
