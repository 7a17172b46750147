"""Run folders: how a study's runs are run, kept and shared. None of it changes a number.

A study decides *what* its runs compute (growkit/study.py, growkit/mixture_study.py); this
module decides how they are run and where they are kept, the same way for both:

    RunOptions   seeds, workers, cache folder, progress, checkpoint interval, pruning
    RunCache     finished runs in one folder, one JSON record per run, named by a hash of
                 what determines it (its spec); a lock per run; read-only when asked
    Job          one run to train: its spec, its name, and a picklable call that trains it
    run_jobs     jobs in parallel worker processes at one torch thread each
    shared_start / share_start   runs that begin alike train their beginning once
    check_folder, summary_lock, listing_runs_on_failure   the folder's one summary

Why one thread per worker process: measured on the course's 2-core machine (the cpu preset's
4-block target, ms per step, `python tools/threads.py`, idle): one run at 2 threads 148, at 1
thread 210; two 1-thread runs at once 213 and 210 (1.4x the work per second of one 2-thread
run); a 2-thread run beside one busy core 528, a 1-thread run 222. So with several runs to
train, one thread per process and one process per core is faster and, above all, steady when
anything else runs; it also makes the numbers independent of the machine's core count.

A study's runs never wait on each other (a grown run trains its own small phase), and the
folder's per-run locks keep two processes from training one run twice, so a worker needs
only its job; the calling process then reads every record from the folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from . import distributed
from .device import auto_device
from .record import Record, atomic_write_text, json_safe
from .resume import RESUME_VERSION, Checkpointing
from .settings import SettingError, at_least, check_types, positive, require
from .train import Trainer, interactive

# ---- how to run ---------------------------------------------------------------------------------


@dataclass
class RunOptions:
    """How a study's runs are run; nothing here changes a number, so nothing here is part of
    a run's name in the cache.

    `seeds`: the seeds `compare` and `mixture_study.run` train (a Study is one seed).
    `workers`: processes that train the runs at one thread each (1: this process, at torch's
    thread count; "auto": one per core on a CPU, 1 on a GPU or without a cache folder).
    `cache_dir`: the folder finished runs are kept in (None: nothing kept). `progress`: a
    progress line (None: in a terminal or notebook only). `checkpoint_every`: steps between
    resumable checkpoints (None: every `checkpoint_minutes` of training; always also at every
    phase boundary and growth). `prune`: once a run has finished keep only its final
    checkpoint (the resumable one always goes)."""

    seeds: list[int] = field(default_factory=lambda: [0])
    workers: int | str = 1
    cache_dir: str | Path | None = None
    progress: bool | None = None
    checkpoint_every: int | None = None
    checkpoint_minutes: float = 3.0
    prune: bool = False

    def __post_init__(self) -> None:
        check_types(self)
        require(self, "seeds", len(self.seeds) > 0, "a non-empty list of seeds", [0])
        at_least(self, 1, "checkpoint_every")
        positive(self, "checkpoint_minutes", fix=3.0)
        if self.workers != "auto":
            check_workers(self.workers)  # type: ignore[arg-type]

    def checkpointing(self, stem: str, start_from: Path | None = None) -> Checkpointing:
        """The Trainer's checkpoint settings for the run saved under `stem`."""
        return Checkpointing(stem=stem, every=self.checkpoint_every, minutes=self.checkpoint_minutes,
                             start_from=start_from)

    def processes(self, workers: int | str | None = None) -> int:
        """How many processes train the runs (`workers`: this call's, None: the options').
        "auto" without a cache folder is 1 (this process); an explicit count > 1 without one
        is refused: the workers hand their runs back through the folder."""
        asked = self.workers if workers is None else workers
        count = auto_workers() if asked == "auto" else asked
        check_workers(count)  # type: ignore[arg-type]
        if self.cache_dir is None:
            if asked == "auto":
                return 1
            if count != 1:
                raise SettingError("workers > 1 need a cache folder to hand the runs back through: "
                                   "cache_dir='runs/...' (in RunOptions, or the Study's), or workers=1.")
        return count  # type: ignore[return-value]

    def show_progress(self) -> bool:
        """Whether this process draws a progress line (never off rank 0 under torchrun)."""
        return (interactive() if self.progress is None else self.progress) and distributed.is_main()


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


# ---- finished runs, cached ------------------------------------------------------------------------

CACHE_VERSION = 2


class NotCached(LookupError):
    """A read-only RunCache was asked for a run it does not hold."""


class RunCache:
    """Finished runs in one folder, one JSON record per run, named by a hash of everything
    that determines it (`spec`), so runs of any number of configurations share a folder
    without overwriting each other. A run in progress writes its record (after every
    evaluation), its checkpoints and a resumable checkpoint under the same name; only a
    finished record, which carries its spec, is reused, and an interrupted run resumes from
    its resumable checkpoint. A lock per run (<key>.lock) makes a second process asking for
    a run another one is training wait and then read the finished record, so seeds can run
    in parallel processes into one folder. Delete the folder to retrain. Both studies use
    it. `readonly`: find finished runs only (get raises NotCached). `prune`: once a run has
    finished keep only its final phase's checkpoint.

    Under torchrun every rank asks for the same runs in the same order and trains each one
    together; rank 0 alone looks in the folder, holds the lock and writes, and shares what
    it found, so the ranks never disagree on whether a run is there (another process may
    finish one between two ranks' looks)."""

    def __init__(self, folder: str | Path | None, *, readonly: bool = False,
                 prune: bool = False) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.readonly = readonly
        self.prune = prune

    @staticmethod
    def key(spec: dict[str, Any]) -> str:
        text = json.dumps({**spec, "version": CACHE_VERSION}, sort_keys=True, default=str)
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    def file(self, spec: dict[str, Any], suffix: str) -> Path | None:
        """A file the run of `spec` wrote, e.g. suffix "phase1.pt" (its last checkpoint of a
        grown run); None without a folder or if there is none."""
        path = None if self.folder is None else self.folder / f"{self.key(spec)}.{suffix}"
        return path if path is not None and path.exists() else None

    def find(self, spec: dict[str, Any]) -> Record | None:
        """The finished record of `spec`, or None."""
        if self.folder is None:
            return None
        path = self.folder / f"{self.key(json_safe(spec))}.json"
        if not path.exists():
            return None
        record = Record.load(path)
        return record if "cache_spec" in record.meta else None

    def untrained(self, jobs: Iterable[Job]) -> list[Job]:
        """The jobs whose runs are not finished in this folder yet."""
        return [job for job in jobs if self.find(job.spec) is None]

    def get(self, spec: dict[str, Any], name: str, train: Callable[[Path | None, str], Record],
            *, prune: bool | None = None) -> Record:
        """The finished record of `spec` under `name`, trained by `train(out_dir, stem)` first
        if there is none; `train` writes its progress to out_dir/stem.json (and resumes from
        out_dir/stem.resume.pt). `prune`: keep only the final phase's checkpoint once done
        (None: the cache's setting). A read-only cache raises NotCached instead of training."""
        spec = json_safe(spec)
        record = self._found(spec)
        if record is None:
            if self.readonly:
                raise NotCached(name)
            record = self._train_locked(spec, name, train, self.prune if prune is None else prune)
        record.name = name  # the same run may be asked for under another name
        return record

    def _found(self, spec: dict[str, Any]) -> Record | None:
        """find(spec) as rank 0 sees it, on every rank (one process: find(spec))."""
        return distributed.on_main(lambda: self.find(spec))

    def _train_locked(self, spec: dict[str, Any], name: str,
                      train: Callable[[Path | None, str], Record], prune: bool) -> Record:
        key = self.key(spec)
        if self.folder is None:
            return self._finish(train(None, key), spec, key, prune)
        if not distributed.is_main():
            # Rank 0 takes the lock and looks again (another process may have finished the
            # run while it waited); the others follow its finding, train alongside it into
            # the folder (the Trainer writes nothing off rank 0) and wait for its writes.
            record = self._found(spec)
            if record is None:
                record = self._finish(train(self.folder, key), spec, key, prune)
                distributed.barrier()
            return record
        with self._lock(key, name):
            record = self._found(spec)  # finished by the process we waited for
            if record is None:
                # Temporary files of a write that a kill cut short (this run's, and the lock
                # says no one else is writing them).
                for tmp in self.folder.glob(f".{key}.*.tmp"):
                    tmp.unlink(missing_ok=True)
                record = self._finish(train(self.folder, key), spec, key, prune)
                distributed.barrier()  # the other ranks see the finished record from here on
        return record

    @contextlib.contextmanager
    def _lock(self, key: str, name: str) -> Iterator[None]:
        """Hold <key>.lock: wait, saying so, while another process trains this run."""
        from filelock import FileLock, Timeout

        assert self.folder is not None
        self.folder.mkdir(parents=True, exist_ok=True)
        lock: FileLock | None = FileLock(str(self.folder / f"{key}.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            print(f"{name}: another process is training this run ({lock.lock_file}); waiting "
                  "for it to finish, then reading its record.", flush=True)
            lock.acquire()
        except NotImplementedError:  # a file system without locks (some network mounts)
            print(f"note: {self.folder} cannot hold file locks: do not run two processes that "
                  "train the same run into it at once.", flush=True)
            lock = None
        try:
            yield
        finally:
            if lock is not None:
                lock.release()

    def _finish(self, record: Record, spec: dict[str, Any], key: str, prune: bool) -> Record:
        record.meta["cache_spec"] = spec
        if self.folder is not None and distributed.is_main():
            record.save(self.folder / f"{key}.json")
            (self.folder / f"{key}.resume.pt").unlink(missing_ok=True)
            if prune:
                final = f"{key}.phase{len(record.phases) - 1}.pt"
                for path in self.folder.glob(f"{key}.phase*.pt"):
                    if path.name != final:
                        path.unlink(missing_ok=True)
        return record


def run_spec(**spec: Any) -> dict[str, Any]:
    """A run's spec (what names it in the cache): what the study says determines it, the
    device it trains on, and under torchrun the number of processes: there its numbers
    differ from one process's (in the last digits for the GPT; BatchNorm normalises each
    process's share of a batch), so it gets its own name. (Not there for one process, so
    the runs of every earlier cache keep their names.)"""
    spec = {**spec, "device": auto_device().type}
    if distributed.world_size() > 1:
        spec["world_size"] = distributed.world_size()
    return spec


# Fields that records written before RunOptions existed kept in their study config; none of
# them ever changed a number, so a record that has them still matches settings without them.
OLD_RUN_FIELDS = ("seeds", "runs", "checkpoint_every", "checkpoint_minutes", "prune_checkpoints")


def seeds_in(cache_dir: str | Path | None, settings: dict[str, Any]) -> list[int]:
    """Seeds with a finished run of these `settings` in cache_dir (read off the records'
    meta: the study config they ran, and their spec's seed)."""
    if cache_dir is None or not Path(cache_dir).is_dir():
        return []
    want = json_safe(settings)
    found = set()
    for path in Path(cache_dir).glob("*.json"):
        try:
            meta = Record.load(path).meta
        except (OSError, ValueError):
            continue  # not a record: not this summary's
        spec, used = meta.get("cache_spec") or {}, meta.get("study") or {}
        if "seed" in spec and {k: v for k, v in used.items() if k not in OLD_RUN_FIELDS} == want:
            found.add(spec["seed"])
    return sorted(found)


# ---- runs in worker processes -------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One run to train: what it computes (`spec`, its name in the cache), what a person
    calls it, and how to train it: `train(*args)` puts the finished run into the cache folder
    (a module-level function and picklable arguments: it runs in another process)."""

    spec: dict[str, Any]
    name: str
    train: Callable[..., Any]
    args: tuple[Any, ...]


def _one_thread() -> None:
    torch.set_num_threads(1)


def one_thread_pool(workers: int) -> ProcessPoolExecutor:
    """`workers` spawned processes at one torch thread each (a checked count)."""
    check_workers(workers)
    # spawn, not fork: a forked child would inherit the parent's torch threads and locks.
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_one_thread)


def run_jobs(jobs: list[Job], workers: int, progress: bool = False) -> None:
    """Every job in up to `workers` one-thread processes, in order (none started for no
    jobs); `progress`: one line counting the finished runs. A job's error is raised here,
    with its own message."""
    check_workers(workers)
    if not jobs:
        return
    from tqdm import tqdm  # a text line, as train.progress_bar's

    processes = min(workers, len(jobs))
    with one_thread_pool(processes) as pool:
        futures = [pool.submit(job.train, *job.args) for job in jobs]
        done = tqdm(as_completed(futures), total=len(futures), disable=not progress,
                    desc=f"runs ({processes} processes, 1 thread each)")
        for f in done:
            f.result()


# ---- shared beginnings --------------------------------------------------------------------------
# MixtureGrowth's four coefficient choices grow the same two half-width members, and the three
# plain widenings the same half-width net: with one seed and one budget, the first half of each
# of those runs is the same computation, bit for bit. The first run of such a family to get
# there leaves a resumable checkpoint of its state at the growth point under a name made of
# everything that determines that state; a sibling that finds it continues from it, through the
# Trainer's exact resume, instead of training its members again. Its record comes out identical
# to training alone (the tests check), and its ledger still counts every FLOP of its beginning
# (its wall_s the beginning's seconds too): the speedups compare runs, not what this machine
# happened to skip. A name from the settings rather than a check of the weights, because a
# sibling must know before it trains whether a beginning is its own; anything that could change
# a number is in the name (settings, the phases' configs, seed, device, threads, processes,
# compile), and the Trainer's resume check still compares the first phase and the seed.


def shared_start(out_dir: Path | None, **what: Any) -> Path | None:
    """Where the runs that begin with `what` (every setting that determines their state at
    the growth point) keep that state; None without a folder (nothing to share through)."""
    if out_dir is None:
        return None
    alike = {**what, "threads": torch.get_num_threads(), "world_size": distributed.world_size(),
             "compile": os.environ.get("GROWKIT_COMPILE"), "resumable": RESUME_VERSION}
    return Path(out_dir) / f"start-{RunCache.key(alike)}.resume.pt"  # the run cache's hash


def share_start(trainer: Trainer, path: Path | None, last_phase: int) -> None:
    """After the beginning's last phase (`last_phase`) has trained: leave its state at `path`
    for the siblings, unless it is there already. A trainer that resumed past that phase
    (its own run, interrupted after growth) holds a later state and shares nothing."""
    if path is None or path.exists():
        return
    if trainer.phase == last_phase and trainer.ledger.phase_step == trainer.config.steps:
        trainer.save_resumable(path)


# ---- the folder's one summary -------------------------------------------------------------------


def check_folder(out: Path, config: dict[str, Any], flag: str) -> None:
    """Refuse to write a summary over one of other settings: a folder's summary describes
    one configuration. (Its runs/ may hold any number: each run's files are named by a hash
    of everything that determines it, so configurations never overwrite each other.) Under
    torchrun rank 0 looks and every rank stops or goes on with it."""
    problem = distributed.broadcast(_folder_problem(out, config, flag) if distributed.is_main() else None)
    if problem is not None:
        raise SystemExit(problem)


def _folder_problem(out: Path, config: dict[str, Any], flag: str) -> str | None:
    path = out / "summary.json"
    if not path.exists():
        return None
    try:
        old = json.loads(path.read_text(encoding="utf-8")).get("config")
    except (OSError, ValueError, AttributeError):
        return None  # unreadable: rewritten below, the runs are kept
    if not isinstance(old, dict):
        return None  # a summary that kept no config (MixtureGrowth's before it did): rewritten
    now = json_safe(config)
    differ = sorted(k for k in set(old) | set(now) if old.get(k, "(unset)") != now.get(k, "(unset)"))
    if not differ:
        return None
    diffs = ", ".join(f"{k}: {old.get(k, '(unset)')!r} there, {now.get(k, '(unset)')!r} now"
                      for k in differ)
    return (f"error: {out} holds the summary of other settings ({diffs}). Use another "
            f"folder ({flag} {out}-2) or delete {path} to replace that summary; the "
            f"finished runs in {out / 'runs'} are kept and reused either way.")


def write_summary(out: Path, summary: dict[str, Any], table: str) -> None:
    """summary.json (the numbers) and summary.txt (the table), each written whole."""
    atomic_write_text(out / "summary.json", json.dumps(json_safe(summary), indent=1))
    atomic_write_text(out / "summary.txt", table + "\n")


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
