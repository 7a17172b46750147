"""Command line: `python -m growkit compare|mixture ...`.

    python -m growkit compare --preset cpu --seeds 0 1 2 --out runs/compare
    python -m growkit compare --preset cpu --set grow_fraction=0.4 --set factor=2
    python -m growkit mixture --preset cpu --seeds 0 1 2 --workers 2 --out runs/mixture

    torchrun --nproc_per_node 4 -m growkit compare --preset gpu   # 4 GPUs (growkit.distributed)

Each command trains this process's runs into <out>/runs, then, holding the folder's summary
lock, summarises every seed finished there. The course itself runs headless with `make demo`
(tools/run_course.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from . import compare, distributed, mixture_study, study
from .checkpoint import CheckpointError
from .plots import plot_compare
from .record import RecordError
from .resume import ProgramChanged
from .runs import FolderError, RunOptions, check_folder, listing_runs_on_failure, summary_lock, write_summary
from .settings import SettingError, parse_setting
from .train import Diverged

# What a user can cause or a run can meet (a setting, a folder, a file, a diverged run, a
# changed program, the disk): one line and a non-zero exit; the traceback under --debug.
EXPECTED = (SettingError, FolderError, RecordError, CheckpointError, Diverged, ProgramChanged, OSError)

# --set keys that say how the runs are run (RunOptions), not what they compute.
RUN_SETTINGS = ("seeds", "checkpoint_every", "checkpoint_minutes", "prune")


def setting_parser(config: type) -> Callable[[str], tuple[type, str, Any]]:
    """An argparse type for `--set key=value`: a field of the dataclass `config` (what the
    runs compute) or one of RUN_SETTINGS (RunOptions: how they run), parsed by the field's
    type (true/false in any case or 1/0 for a flag, numbers strictly, none for an optional
    field, 0,1 or [0,1] for a list); a bad one is an error naming the field, its type and
    the value. Returns (the class the key belongs to, key, value)."""

    def parse(text: str) -> tuple[type, str, Any]:
        if "=" not in text:
            raise argparse.ArgumentTypeError(f"--set takes key=value, got {text!r}.")
        key, raw = (part.strip() for part in text.split("=", 1))
        target = RunOptions if key in RUN_SETTINGS else config
        try:
            return (target, *parse_setting(target, key, raw))
        except SettingError as e:
            hint = f" Or one of RunOptions': {', '.join(RUN_SETTINGS)}." if "unknown" in str(e) else ""
            raise argparse.ArgumentTypeError(f"{e}{hint}") from None

    return parse


def train(args: argparse.Namespace, cfg: Any, options: RunOptions) -> None:
    """This process's runs (its seeds), once: those already in the folder are read."""
    if args.command == "compare":
        compare.train(cfg, options)
    else:
        mixture_study.train(cfg, options, args.runs)


def summary(args: argparse.Namespace, cfg: Any, options: RunOptions) -> tuple[dict[str, Any], str, Any]:
    """(summary.json's data, the table, the records to draw or None), read from the folder:
    this process's seeds and every other one finished there with these settings."""
    if args.command == "compare":
        result = compare.compare(cfg, options, readonly=True)
        return result.to_json(), result.table, result.records
    found = mixture_study.run(cfg, options, args.runs, readonly=True)
    return {k: v for k, v in found.items() if k != "records"}, found["table"], None


def cmd(args: argparse.Namespace) -> int:
    module = study if args.command == "compare" else mixture_study
    sets = args.set or []
    cfg = module.preset(args.preset, **{k: v for cls, k, v in sets if cls is not RunOptions})
    run_settings = {k: v for cls, k, v in sets if cls is RunOptions}
    if args.seeds is not None:
        run_settings["seeds"] = args.seeds
    out = Path(args.out)
    options = RunOptions(cache_dir=out / "runs", progress=args.progress, workers=args.workers,
                         **run_settings)
    check_folder(out, asdict(cfg), "--out")
    t0 = time.perf_counter()
    with listing_runs_on_failure(out):
        if args.workers not in (1, "auto") and distributed.world_size() > 1:
            raise SettingError(f"--workers {args.workers} under torchrun: the ranks already share "
                               "the work; leave --workers out (or run without torchrun).")
        train(args, cfg, options)
        with summary_lock(out):  # seeds other processes finished meanwhile join
            # Again, under the lock: another process may have written its summary meanwhile.
            check_folder(out, asdict(cfg), "--out")
            data, table, records = summary(args, cfg, options)
            if not distributed.is_main():
                return 0  # rank 0 writes and prints for every rank
            write_summary(out, data, table)
            if records is not None:
                plot_compare(records, out / "compare.png")
    print(table)
    print(f"\nwall time {time.perf_counter() - t0:.0f} s")
    print(f"records: {out / 'runs'}/ (one JSON per run, reused by later calls)")
    print(f"table:   {out / 'summary.txt'} (and summary.json)")
    if records is not None:
        print(f"figure:  {out / 'compare.png'}")
    return 0


def one_line(error: BaseException) -> str:
    """An error's message on one line; an OSError's with its file and a fix (Python's own
    names the errno and the file only)."""
    if isinstance(error, OSError) and not isinstance(error, (FolderError, SettingError)):
        where = f" ({error.filename})" if error.filename else ""
        text = (f"{error.strerror or error}{where}: check the path and the disk, or choose "
                "another --out")
    else:
        text = str(error)
    return " ".join(text.split())


def worker_count(text: str) -> int | str:
    return text if text == "auto" else int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m growkit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    commands = [("compare", "scratch vs G_stack-grown vs small-alone on one FLOPs budget (GPT)",
                 study.PRESETS, study.StudyConfig, "runs/compare"),
                ("mixture", "MixtureGrowth vs the other ways of widening a CNN, on one FLOPs budget",
                 mixture_study.PRESETS, mixture_study.MixtureConfig, "runs/mixture")]
    for name, help_text, presets, config, out in commands:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--preset", default="cpu", choices=[*sorted(presets), "auto"])
        p.add_argument("--seeds", type=int, nargs="+", default=None)
        p.add_argument("--set", type=setting_parser(config), action="append", metavar="KEY=VALUE",
                       help=f"override one {config.__name__} field, e.g. --set grow_fraction=0.4, or "
                            f"one of RunOptions' {', '.join(RUN_SETTINGS)}, e.g. --set checkpoint_every=500")
        p.add_argument("--out", default=out)
        # Default: a bar in a terminal, none in logs (see train.interactive).
        p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
        p.add_argument("--workers", type=worker_count, default=1, metavar="N",
                       help="train the runs in N processes at 1 thread each ('auto': one per core; "
                            "e.g. 2 on a 2-core CPU: faster for several runs, steady on a busy "
                            "machine; other numbers than 1 process at torch's default thread count)")
        if name == "mixture":
            p.add_argument("--runs", nargs="+", default=None, choices=mixture_study.RUNS)
        p.add_argument("--debug", action="store_true",
                       help="show the traceback of an error (by default: one line saying what to do)")
    args = parser.parse_args(argv)
    # Under torchrun (WORLD_SIZE set) every rank joins one process group and trains each run
    # together, data parallel; rank 0 alone writes and prints.
    started = not distributed.initialized() and distributed.init_from_env()
    if not distributed.is_main():
        args.progress = False
    finished = False
    try:
        code = cmd(args)
        finished = True
        return code
    except EXPECTED as e:
        if args.debug:
            raise
        parser.exit(2, f"{parser.prog} {args.command}: error: {one_line(e)}\n")
    except KeyboardInterrupt:
        if args.debug:
            raise
        parser.exit(130, f"{parser.prog} {args.command}: interrupted: run the same command again "
                         "to continue (finished runs are kept, a run in progress resumes).\n")
    finally:
        if started:
            distributed.shutdown(finished)


if __name__ == "__main__":
    sys.exit(main())
