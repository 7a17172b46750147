"""Command line: `python -m growkit compare|mixture ...`.

    python -m growkit compare --preset cpu --seeds 0 1 2 --out runs/compare
    python -m growkit compare --preset cpu --set grow_fraction=0.4 --set factor=2
    python -m growkit mixture --preset cpu --seeds 0 1 2 --out runs/mixture

The course itself runs headless with `make demo` (tools/run_course.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from . import mixture_study, study
from .record import atomic_write_text, json_safe


def setting_parser(config: type) -> Any:
    """An argparse type for `--set key=value` on the fields of the dataclass `config`; the
    value is parsed as JSON when it can be (numbers, true/false, null, lists)."""
    fields = {f.name for f in dataclasses.fields(config)}

    def parse(text: str) -> tuple[str, Any]:
        if "=" not in text:
            raise argparse.ArgumentTypeError(f"--set takes key=value, got {text!r}.")
        key, raw = text.split("=", 1)
        if key not in fields:
            raise argparse.ArgumentTypeError(
                f"unknown setting {key!r}; settings are: {', '.join(sorted(fields))}.")
        try:
            return key, json.loads(raw)
        except json.JSONDecodeError:
            return key, raw

    return parse


def write_summary(out: Path, summary: dict[str, Any]) -> None:
    data = {k: v for k, v in summary.items() if k != "records"}
    atomic_write_text(out / "summary.json", json.dumps(json_safe(data), indent=1))
    atomic_write_text(out / "summary.txt", summary["table"] + "\n")


def cmd_compare(args: argparse.Namespace) -> int:
    from .plots import plot_compare

    overrides = dict(args.set or [])
    if args.seeds is not None:
        overrides["seeds"] = args.seeds
    cfg = study.preset(args.preset, **overrides)
    out = Path(args.out)
    t0 = time.perf_counter()
    summary = study.compare(cfg, out / "runs", progress=args.progress)
    write_summary(out, summary)
    plot_compare(summary["records"], out / "compare.png")
    print(summary["table"])
    print(f"\nwall time {time.perf_counter() - t0:.0f} s")
    print(f"records: {out / 'runs'}/ (one JSON per run, reused by later calls)")
    print(f"table:   {out / 'summary.txt'} (and summary.json)")
    print(f"figure:  {out / 'compare.png'}")
    return 0


def cmd_mixture(args: argparse.Namespace) -> int:
    overrides = dict(args.set or [])
    for key in ("seeds", "runs"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    cfg = mixture_study.preset(args.preset, **overrides)
    out = Path(args.out)
    t0 = time.perf_counter()
    summary = mixture_study.run(cfg, out / "runs", progress=args.progress)
    write_summary(out, summary)
    print(summary["table"])
    print(f"\nwall time {time.perf_counter() - t0:.0f} s; records in {out / 'runs'}/, "
          f"table in {out / 'summary.txt'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m growkit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    commands = [("compare", "scratch vs G_stack-grown vs small-alone on one FLOPs budget (GPT)",
                 study.PRESETS, study.StudyConfig, cmd_compare, "runs/compare"),
                ("mixture", "MixtureGrowth vs the other ways of widening a CNN, on one FLOPs budget",
                 mixture_study.PRESETS, mixture_study.MixtureConfig, cmd_mixture, "runs/mixture")]
    for name, help_text, presets, config, func, out in commands:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--preset", default="cpu", choices=[*sorted(presets), "auto"])
        p.add_argument("--seeds", type=int, nargs="+", default=None)
        p.add_argument("--set", type=setting_parser(config), action="append", metavar="KEY=VALUE",
                       help=f"override one {config.__name__} field, e.g. --set grow_fraction=0.4")
        p.add_argument("--out", default=out)
        # Default: a bar in a terminal, none in logs (see train.interactive).
        p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
        if name == "mixture":
            p.add_argument("--runs", nargs="+", default=None, choices=mixture_study.RUNS)
        p.set_defaults(func=func)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
