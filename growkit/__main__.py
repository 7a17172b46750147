"""Command line: `python -m growkit compare|course|demo|bench ...`.

    python -m growkit compare --preset cpu --seeds 0 1 2 --out runs/compare
    python -m growkit compare --preset cpu --set grow_fraction=0.4 --set factor=2
    python -m growkit course --out outputs/course   # every notebook, headless (= demo)
    python -m growkit course --smoke --only 00 05    # seconds; numbers mean nothing
    python -m growkit bench         # throughput of the training loop on this machine
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from .compare import PRESETS, CompareConfig, compare, preset


def parse_override(text: str) -> tuple[str, Any]:
    """`key=value` with value parsed as JSON when it can be (numbers, true/false, null)."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--set takes key=value, got {text!r}.")
    key, raw = text.split("=", 1)
    fields = {f.name for f in dataclasses.fields(CompareConfig)}
    if key not in fields:
        raise argparse.ArgumentTypeError(
            f"unknown setting {key!r}; settings are: {', '.join(sorted(fields))}.")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def cmd_compare(args: argparse.Namespace) -> int:
    overrides = dict(args.set or [])
    if args.seeds is not None:
        overrides["seeds"] = args.seeds
    cfg = preset(args.preset, **overrides)
    t0 = time.perf_counter()
    summary = compare(cfg, args.out, progress=args.progress)
    print(summary["table"])
    print(f"\nwall time {time.perf_counter() - t0:.0f} s")
    print(f"records: {summary['paths']['records']}/")
    print(f"table:   {summary['paths']['summary']} (and summary.json)")
    print(f"figure:  {summary['paths']['figure']}")
    return 0


def cmd_course(args: argparse.Namespace) -> int:
    from .course import run_course

    t0 = time.perf_counter()
    executed = run_course(args.out, preset=args.preset, smoke=args.smoke, only=args.only)
    failed = [e.name for e in executed if e.status != "ok"]
    print(f"\nwall time {time.perf_counter() - t0:.0f} s; open {Path(args.out) / 'index.html'}")
    if failed:
        print(f"FAILED: {failed} (their partial notebooks are in {args.out}/)")
    return 1 if failed else 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run_bench

    results = run_bench(steps=args.steps)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    for r in results["gpt"]:
        print(f"{r['name']:>12}: {r['tokens_per_s']:>9.0f} tokens/s  {r['gflops_per_s']:6.1f} GFLOP/s")
    print(f"written to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m growkit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("compare", help="scratch vs grown vs small-alone on one FLOPs budget")
    p.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    p.add_argument("--seeds", type=int, nargs="+", default=None)
    p.add_argument("--set", type=parse_override, action="append", metavar="KEY=VALUE",
                   help="override one CompareConfig field, e.g. --set grow_fraction=0.4")
    p.add_argument("--out", default="runs/compare")
    # Default: a bar in a terminal, none in logs (see train.interactive).
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    p.set_defaults(func=cmd_compare)

    for name in ("course", "demo"):
        p = sub.add_parser(name, help="execute the notebook course headless into a folder with a "
                           "summary page" + (" (what `make demo` runs)" if name == "demo" else ""))
        p.add_argument("--preset", default="cpu", help="cpu, gpu, t4 or auto")
        p.add_argument("--smoke", action="store_true", help="seconds per notebook; the numbers mean nothing")
        p.add_argument("--only", nargs="+", default=None, metavar="NN", help="notebooks whose names start so")
        p.add_argument("--out", default="outputs/course")
        p.set_defaults(func=cmd_course)

    p = sub.add_parser("bench", help="training throughput of a few GPT sizes on this machine")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--out", default="runs/bench.json")
    p.set_defaults(func=cmd_bench)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
