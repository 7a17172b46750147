"""Command line: `python -m growkit compare|mixture ...`.

    python -m growkit compare --preset cpu --seeds 0 1 2 --out runs/compare
    python -m growkit compare --preset cpu --set grow_fraction=0.4 --set factor=2
    python -m growkit mixture --preset cpu --seeds 0 1 2 --out runs/mixture

    torchrun --nproc_per_node 4 -m growkit compare --preset gpu   # 4 GPUs (growkit.distributed)

The course itself runs headless with `make demo` (tools/run_course.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import distributed, mixture_study, study
from .checkpoint import CheckpointError
from .record import Record, RecordError, atomic_write_text, json_safe
from .settings import SettingError, parse_setting


def setting_parser(config: type) -> Any:
    """An argparse type for `--set key=value` on the fields of the dataclass `config`: the
    value is parsed by the field's type (true/false in any case or 1/0 for a flag, numbers
    strictly, none for an optional field, 0,1 or [0,1] for a list); a bad one is an error
    naming the field, its type and the value."""

    def parse(text: str) -> tuple[str, Any]:
        if "=" not in text:
            raise argparse.ArgumentTypeError(f"--set takes key=value, got {text!r}.")
        key, raw = text.split("=", 1)
        try:
            return parse_setting(config, key.strip(), raw)
        except SettingError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return parse


def check_folder(out: Path, settings: dict[str, Any], flag: str) -> None:
    """Refuse to write a summary over one of other settings: a folder's summary describes
    one configuration. (Its runs/ may hold any number: each run's files are named by a hash
    of everything that determines it, so configurations never overwrite each other.) Under
    torchrun rank 0 looks and every rank stops or goes on with it."""
    problem = None
    if distributed.is_main():
        try:
            _check_folder(out, settings, flag)
        except SystemExit as e:
            problem = str(e.code)
    problem = distributed.broadcast(problem)
    if problem is not None:
        raise SystemExit(problem)


def _check_folder(out: Path, settings: dict[str, Any], flag: str) -> None:
    path = out / "summary.json"
    if not path.exists():
        return
    try:
        old = json.loads(path.read_text(encoding="utf-8")).get("config") or {}
    except (OSError, ValueError, AttributeError):
        return  # unreadable: rewritten below, the runs are kept
    now = json_safe(settings)
    differ = sorted(k for k in set(old) | set(now) if old.get(k, "(unset)") != now.get(k, "(unset)"))
    if differ:
        diffs = ", ".join(f"{k}: {old.get(k, '(unset)')!r} there, {now.get(k, '(unset)')!r} now"
                          for k in differ)
        raise SystemExit(f"error: {out} holds the summary of other settings ({diffs}). Use another "
                         f"folder ({flag} {out}-2) or delete {path} to replace that summary; the "
                         f"finished runs in {out / 'runs'} are kept and reused either way.")


def write_summary(out: Path, summary: dict[str, Any]) -> None:
    data = {k: v for k, v in summary.items() if k != "records"}
    atomic_write_text(out / "summary.json", json.dumps(json_safe(data), indent=1))
    atomic_write_text(out / "summary.txt", summary["table"] + "\n")


@contextlib.contextmanager
def summary_lock(out: Path) -> Iterator[None]:
    """One writer of a folder's summary at a time: processes running seeds into one folder
    each write it after their own runs, and the last one sees every seed. (Under torchrun
    rank 0 is the writer; the other ranks go through the same steps without the lock.)"""
    from filelock import FileLock

    if not distributed.is_main():
        yield
        return
    out.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out / ".summary.lock")):
        yield


@contextlib.contextmanager
def listing_runs_on_failure(out: Path) -> Iterator[None]:
    """If the summary fails after runs were trained, summary.txt lists them (and why)."""
    try:
        yield
    except SettingError:
        raise  # refused before training: the folder is left as it was
    except (ValueError, ArithmeticError, KeyError, TypeError) as e:
        if (out / "runs").is_dir() and distributed.is_main():
            list_runs(out, e)
            print(f"error: the summary failed; {out / 'summary.txt'} lists the runs in {out / 'runs'}.",
                  file=sys.stderr)
        raise


def list_runs(out: Path, error: BaseException) -> None:
    """When the summary fails, summary.txt still lists the folder's runs, and why."""
    lines = [f"The summary failed: {type(error).__name__}: {error}", "", "Runs in this folder:"]
    for path in sorted((out / "runs").glob("*.json")):
        try:
            rec = Record.load(path)
            done = "finished" if "cache_spec" in rec.meta else "unfinished"
            loss = f"{rec.final_val_loss:.4f}" if rec.history else "-"
            lines.append(f"  {path.name}  {rec.name}  seed {rec.meta.get('seed')}  {done}  val loss {loss}")
        except (OSError, ValueError) as e:
            lines.append(f"  {path.name}  unreadable: {e}")
    atomic_write_text(out / "summary.txt", "\n".join(lines) + "\n")


def cmd_compare(args: argparse.Namespace) -> int:
    from .plots import plot_compare

    overrides = dict(args.set or [])
    if args.seeds is not None:
        overrides["seeds"] = args.seeds
    cfg = study.preset(args.preset, **overrides)
    out = Path(args.out)
    check_folder(out, cfg.settings(), "--out")
    t0 = time.perf_counter()
    with listing_runs_on_failure(out):
        if args.workers > 1 and distributed.world_size() > 1:
            raise SettingError(f"--workers {args.workers} under torchrun: the ranks already share "
                               "the work; leave --workers out (or run without torchrun).")
        # trains this process's seeds
        study.compare(cfg, out / "runs", progress=args.progress, workers=args.workers)
        with summary_lock(out):  # read again: seeds other processes finished meanwhile join
            summary = study.compare(cfg, out / "runs", progress=False)
            if not distributed.is_main():
                return 0  # rank 0 writes and prints for every rank
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
    check_folder(out, cfg.settings(), "--out")
    t0 = time.perf_counter()
    with listing_runs_on_failure(out):
        mixture_study.run(cfg, out / "runs", progress=args.progress)  # trains this process's seeds
        with summary_lock(out):  # read again: seeds other processes finished meanwhile join
            summary = mixture_study.run(cfg, out / "runs", progress=False)
            if not distributed.is_main():
                return 0  # rank 0 writes and prints for every rank
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
        if name == "compare":
            p.add_argument("--workers", type=int, default=1, metavar="N",
                           help="train the runs in N processes at 1 thread each (e.g. 2 on a 2-core "
                                "CPU: faster for several runs, steady on a busy machine; other numbers "
                                "than 1 process at torch's default thread count)")
        if name == "mixture":
            p.add_argument("--runs", nargs="+", default=None, choices=mixture_study.RUNS)
        p.set_defaults(func=func)
    args = parser.parse_args(argv)
    # Under torchrun (WORLD_SIZE set) every rank joins one process group and trains each run
    # together, data parallel; rank 0 alone writes and prints.
    started = not distributed.initialized() and distributed.init_from_env()
    if not distributed.is_main():
        args.progress = False
    try:
        return args.func(args)
    except (SettingError, RecordError, CheckpointError) as e:  # the rule or the file: no traceback
        parser.exit(2, f"{parser.prog} {args.command}: error: {e}\n")
    finally:
        if started:
            distributed.shutdown()


if __name__ == "__main__":
    sys.exit(main())
