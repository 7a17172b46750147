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
from concurrent.futures import ProcessPoolExecutor

import torch

from .settings import SettingError
from .study import Study, StudyConfig, Variant, model_name


def _one_thread() -> None:
    torch.set_num_threads(1)


def _train(cfg: StudyConfig, seed: int, folder: str, preset: str | None, kind: str,
           variant: Variant | None) -> str:
    study = Study(cfg, seed, progress=False, cache_dir=folder, preset=preset)
    if kind == "scratch":
        return study.scratch.name
    if kind == "alone":
        return study.small_alone(variant).name
    return study.train_grown(variant).name


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
        raise SettingError(f"workers must be a whole number >= 1, got {workers!r}: e.g. workers=2 "
                           "(--workers 2 on the command line; one per core).")


def one_thread_pool(workers: int) -> ProcessPoolExecutor:
    """`workers` spawned processes at one torch thread each (a checked count)."""
    check_workers(workers)
    # spawn, not fork: a forked child would inherit the parent's torch threads and locks.
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_one_thread)


def train_in_workers(studies: Study | list[Study], variants: list[Variant], workers: int) -> None:
    """Train the runs `variants` need, for every study (one per seed), in `workers` processes
    at one thread each, into the studies' cache folder (`study.run`/`add` then read them)."""
    studies = studies if isinstance(studies, list) else [studies]
    check_workers(workers)
    if any(s.cache.folder is None for s in studies):
        raise SettingError("workers > 1 need a cache folder to hand the runs back through: build "
                           "the Study with cache_dir='runs/...' (or use workers=1).")
    with one_thread_pool(workers) as pool:
        futures = [pool.submit(_train, s.cfg, s.seed, str(s.cache.folder), s.preset, kind, variant)
                   for s in studies for kind, variant in jobs(s, variants)]
        for f in futures:
            f.result()  # a worker's error, raised here with its own message
