"""A study's runs in parallel worker processes, one torch thread each.

Measured on the course's 2-core machine (the cpu preset's 4-block target, ms per step,
`python tools/threads.py`, idle): one run at 2 threads 148, at 1 thread 210; two 1-thread
runs at once 213 and 210 (1.4x the work per second of one 2-thread run); a 2-thread run
beside one busy core 528, a 1-thread run 222. So with several runs to train, one thread per
process and one process per core is faster and, above all, steady when anything else runs; it also
makes the numbers independent of the machine's core count.

The runs of a Study never wait on each other (a grown run trains its own small phase), and
the cache folder's per-run locks keep two processes from training one run twice, so the
workers only need the study's settings and its folder: each builds the same Study and
trains its share; the calling process then reads every record from the cache.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Literal

import torch

from . import distributed
from .device import auto_device
from .settings import SettingError
from .study import NotCached, Study, StudyConfig, Variant, model_name

# How many processes train a study's runs: a count, or "auto" (auto_workers).
Workers = int | Literal["auto"]


def _one_thread() -> None:
    torch.set_num_threads(1)


def _train(cfg: StudyConfig, seed: int, folder: str, preset: str | None, kind: str,
           variant: Variant | None) -> str:
    return _run(Study(cfg, seed, progress=False, cache_dir=folder, preset=preset), kind, variant)


def jobs(study: Study, variants: list[Variant]) -> list[tuple[str, Variant | None]]:
    """Every run the variants need, once each: scratch, each small model alone, each grown run."""
    out: list[tuple[str, Variant | None]] = [("scratch", None)]
    smalls = {model_name(study.target)}  # a small model of the target's shape is scratch
    for v in variants:
        if (name := model_name(study.small_of(v))) not in smalls:
            smalls.add(name)
            out.append(("alone", v))
    return out + [("grown", v) for v in variants]


def check_workers(workers: int) -> None:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise SettingError(f"workers must be a whole number >= 1 or 'auto', got {workers!r}: e.g. "
                           "workers=2 (--workers 2 on the command line; one per core).")


def auto_workers() -> int:
    """What workers="auto" means here: on a CPU, one 1-thread process per core this process
    may use (the measured 1.4x on two cores, and the same numbers on any machine); on a GPU,
    or under torchrun, 1 (this process: the GPU is one device, the ranks share the work)."""
    if auto_device().type != "cpu" or distributed.world_size() > 1:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, cores or 1)


def resolve_workers(workers: Workers) -> int:
    """A checked count of processes for `workers` (a count, or "auto")."""
    if workers == "auto":
        return auto_workers()
    check_workers(workers)  # type: ignore[arg-type]
    return workers  # type: ignore[return-value]


def processes_for(workers: Workers, folder: object | None) -> int:
    """How many processes train runs handed back through `folder` ("auto" without one: 1,
    this process; an explicit count without one is refused where the runs are handed out)."""
    count = resolve_workers(workers)
    return 1 if workers == "auto" and folder is None else count


def one_thread_pool(workers: int) -> ProcessPoolExecutor:
    """`workers` spawned processes at one torch thread each (a checked count)."""
    check_workers(workers)
    # spawn, not fork: a forked child would inherit the parent's torch threads and locks.
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_one_thread)


def untrained(study: Study, variants: list[Variant]) -> list[tuple[str, Variant | None]]:
    """The jobs of `variants` whose runs are not in the study's cache folder yet."""
    probe = Study(study.cfg, study.seed, progress=False, cache_dir=study.cache.folder,
                  preset=study.preset, readonly=True)
    out = []
    for kind, variant in jobs(study, variants):
        try:
            _run(probe, kind, variant)
        except NotCached:
            out.append((kind, variant))
    return out


def _run(study: Study, kind: str, variant: Variant | None) -> str:
    if kind == "scratch":
        return study.scratch.name
    if kind == "alone":
        return study.small_alone(variant).name
    return study.train_grown(variant).name


def train_in_workers(studies: Study | list[Study], variants: list[Variant], workers: int,
                     progress: bool = False) -> None:
    """Train the runs `variants` need, for every study (one per seed), in `workers` processes
    at one thread each, into the studies' cache folder (`study.run`/`add` then read them).
    Runs already in the folder are not handed out (no process starts when none is left);
    `progress`: one line counting the finished runs."""
    studies = studies if isinstance(studies, list) else [studies]
    check_workers(workers)
    if any(s.cache.folder is None for s in studies):
        raise SettingError("workers > 1 need a cache folder to hand the runs back through: build "
                           "the Study with cache_dir='runs/...' (or use workers=1).")
    todo = [(s, kind, v) for s in studies for kind, v in untrained(s, variants)]
    run_all([(_train, (s.cfg, s.seed, str(s.cache.folder), s.preset, kind, v)) for s, kind, v in todo],
            workers, progress)


def run_all(calls: list[tuple[Callable[..., Any], tuple[Any, ...]]], workers: int,
            progress: bool = False) -> None:
    """Each `fn(*args)` of `calls` in up to `workers` one-thread processes (none started for
    no calls); `progress`: one line counting the finished calls. A call's error is raised here."""
    if not calls:
        return
    from tqdm import tqdm  # a text line, as train.progress_bar's

    processes = min(workers, len(calls))
    with one_thread_pool(processes) as pool:
        futures = [pool.submit(fn, *args) for fn, args in calls]
        done = tqdm(as_completed(futures), total=len(futures), disable=not progress,
                    desc=f"runs ({processes} processes, 1 thread each)")
        for f in done:
            f.result()  # a worker's error, raised here with its own message
