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
import pickle
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from . import distributed
from .checkpoint import CheckpointError, load_checkpoint
from .device import auto_device
from .progress import counter, interactive
from .record import Record, RecordError, atomic_write_text, json_safe
from .resume import RESUME_VERSION, Checkpointing, ProgramChanged
from .settings import SettingError, at_least, check_types, positive, require
from .train import Diverged, Trainer

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


class RetrainToRecover(CheckpointError):
    """A finished run's checkpoint that cannot be loaded. Deleting the checkpoint alone would
    not help (a finished run is read, not trained again): the message names the record to
    delete with it."""

    def __init__(self, path: Path, problem: str, record: Path, name: str) -> None:
        self.path, self.record = path, record
        files = f"it and its record {record} (rm {path} {record})" if path.exists() else \
            f"its record {record} (rm {record})"
        ValueError.__init__(self, f"{path}: cannot load this checkpoint: {problem}. The run {name!r} "
                            f"is finished, so a re-run would not write it again: delete {files} and "
                            "re-run to train that run again; the other runs are kept.")


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

    def final_model(self, record: Record) -> torch.nn.Module | None:
        """The finished run `record`'s final weights, from its last phase's checkpoint in
        the folder (None without a folder). A checkpoint gone or unreadable is an error that
        says what to delete: a re-run trains only the runs without a finished record, so the
        record goes too, and then the run trains again and writes both."""
        if self.folder is None:
            return None
        spec = record.meta["cache_spec"]
        key = self.key(spec)
        path = self.folder / f"{key}.phase{len(record.phases) - 1}.pt"
        if not path.exists():
            problem = "it is not there (deleted, or pruned by hand)"
        else:
            try:
                return load_checkpoint(path)[0]
            except CheckpointError as e:
                problem = str(e).split(": cannot load this checkpoint: ", 1)[-1].split(". Delete it", 1)[0]
        raise RetrainToRecover(path, problem, self.folder / f"{key}.json", record.name)

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


def _worker_start(parent: int) -> None:
    """Each worker process, once: one torch thread, and it dies with its parent. A parent
    killed outright (SIGKILL, the out-of-memory killer) runs no clean-up, and its workers,
    adopted by init, would train on for hours and keep their memory: on Linux the kernel
    sends them SIGTERM when the parent dies (prctl PR_SET_PDEATHSIG); elsewhere, and should
    the parent have died before this line, a thread notices that the parent changed."""
    torch.set_num_threads(1)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes
            import signal

            PR_SET_PDEATHSIG = 1
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    threading.Thread(target=_exit_with, args=(parent,), daemon=True, name="parent-watch").start()


def _exit_with(parent: int, every_s: float = 1.0) -> None:
    """End this process (the parent-pid watch) once its parent `parent` is gone."""
    while os.getppid() == parent:
        time.sleep(every_s)
    os._exit(1)  # the run's last checkpoint stays; a re-run resumes from it


def one_thread_pool(workers: int) -> ProcessPoolExecutor:
    """`workers` spawned processes at one torch thread each (a checked count), which end
    when this process ends, however it ends."""
    check_workers(workers)
    # spawn, not fork: a forked child would inherit the parent's torch threads and locks.
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_start,
                               initargs=(os.getpid(),))


def run_job(train: Callable[..., Any], *args: Any) -> Any:
    """`train(*args)` in a worker, its error made to cross back to the parent as itself:
    growkit's file errors take (path, problem) and would not unpickle from their message
    alone, which turned a one-line error into a broken pool."""
    try:
        return train(*args)
    except Exception as e:
        try:
            pickle.loads(pickle.dumps(e))
        except Exception:
            state = {k: v for k, v in vars(e).items() if _picklable(v)}
            rebuild = (_rebuilt, (type(e), e.args, state))
            e.__reduce_ex__ = lambda protocol: rebuild  # type: ignore[method-assign]
        raise


def _picklable(value: Any) -> bool:
    try:
        pickle.dumps(value)
    except Exception:
        return False
    return True


def _rebuilt(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> BaseException:
    """An exception as run_job sent it: its class, message and attributes, without calling
    its __init__ (which may take other arguments than its message)."""
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


def run_jobs(jobs: list[Job], workers: int, progress: bool = False) -> None:
    """Every job in up to `workers` one-thread processes, in order (none started for no
    jobs); `progress`: one line counting the finished runs. A job's error is raised here,
    with its own message, once the runs already started have stopped (none more starts)."""
    check_workers(workers)
    if not jobs:
        return
    processes = min(workers, len(jobs))
    with one_thread_pool(processes) as pool:
        futures = [pool.submit(run_job, job.train, *job.args) for job in jobs]
        # On stdout, as the Trainer's line: JupyterLab shows stderr as an error box.
        done = counter(as_completed(futures), f"runs ({processes} processes, 1 thread each)",
                       progress, total=len(futures))
        try:
            for f in done:
                f.result()
        except BaseException:
            for f in futures:
                f.cancel()  # the runs not started yet: an error is reported without waiting for them
            raise


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


class FolderError(ValueError):
    """A folder growkit will not write into as asked: which folder, why, and what to do."""


def check_folder(out: Path, config: dict[str, Any], flag: str) -> None:
    """Refuse, before anything is written, a folder that cannot hold a summary (a file, a
    path no one can create), one holding files growkit did not write, and a summary of other
    settings: a folder's summary describes one configuration. (Its runs/ may hold any number:
    each run's files are named by a hash of everything that determines it, so configurations
    never overwrite each other.) The CLI calls it again under the summary lock, just before
    writing, so two processes of other settings started at once cannot both write. Under
    torchrun rank 0 looks and every rank stops or goes on with it."""
    problem = distributed.broadcast(folder_problem(out, config, flag) if distributed.is_main() else None)
    if problem is not None:
        raise FolderError(problem)


def folder_problem(out: Path, config: dict[str, Any], flag: str) -> str | None:
    """Why `out` cannot take this summary, in one sentence with a fix; None if it can."""
    return path_problem(out, flag) or foreign_problem(out, flag) or settings_problem(out, config, flag)


def path_problem(out: Path, flag: str) -> str | None:
    """A folder that is a file, under a file, too long a name, or in a place where no folder
    can be made (/proc, a read-only disk), found without creating anything that stays."""
    out = Path(os.path.abspath(out))
    base = next(p for p in [out, *out.parents] if len(p.name.encode()) <= 255 and _exists(p))
    longest = max([len(part.encode()) for part in out.relative_to(base).parts] or [0])
    limit = _name_max(base if base.is_dir() else base.parent)
    if longest > limit:
        return (f"{flag} {out} has a name of {longest} bytes, longer than the {limit} the file "
                f"system allows for one name: choose a shorter {flag}.")
    if out.exists():
        if not out.is_dir():
            return f"{flag} {out} is a file, not a folder: choose a folder ({flag} {out}-runs) or move that file away."
        return None if os.access(out, os.W_OK) else f"cannot write into {out} (no permission): choose another {flag}."
    if not base.is_dir():
        return (f"{flag} {out} lies under {base}, which is a file, not a folder: choose another "
                f"{flag} (e.g. {flag} {base}-runs) or move that file away.")
    try:  # the one sure test: make a folder there, and take it away again
        os.rmdir(tempfile.mkdtemp(prefix=".growkit-", dir=base))
    except OSError as e:
        return f"cannot create folders in {base} ({e.strerror}): choose another {flag}, e.g. {flag} runs/compare."
    return None


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return False  # e.g. a name too long to look up


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255  # most file systems' limit (os.pathconf is Unix only)


# What growkit writes beside runs/: a folder holding these without a summary.json of its own
# holds someone else's files, which growkit does not overwrite.
SUMMARY_FILES = ("summary.json", "summary.txt", "compare.png")
LISTING_HEAD = "The summary failed:"  # summary.txt's first line when it lists the runs instead


def foreign_problem(out: Path, flag: str) -> str | None:
    """Files where growkit writes its summary that growkit did not write."""
    if ours(out / "summary.json"):
        return None
    listing = out / "summary.txt"
    theirs = [out / n for n in SUMMARY_FILES if (out / n).exists()
              and not (n == "summary.txt" and _first_line(listing).startswith(LISTING_HEAD))]
    if not theirs:
        return None
    names = ", ".join(str(p) for p in theirs)
    return (f"{out} holds files growkit did not write ({names}), which its summary would replace: "
            f"use another folder ({flag} {out}-growkit) or move those files away.")


def ours(path: Path) -> bool:
    """Whether `path` is a summary.json growkit wrote (compare's or mixture's)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    # Its settings (every summary since they were kept), or a table of rows (MixtureGrowth's before).
    return isinstance(data, dict) and (isinstance(data.get("config"), dict)
                                       or (isinstance(data.get("table"), str) and "rows" in data))


def _first_line(path: Path) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.readline()
    except OSError:
        return ""


def settings_problem(out: Path, config: dict[str, Any], flag: str) -> str | None:
    path = out / "summary.json"
    if not ours(path):
        return None
    old = json.loads(path.read_text(encoding="utf-8")).get("config")
    if not isinstance(old, dict):
        return None  # a summary that kept no config (MixtureGrowth's before it did): rewritten
    now = json_safe(config)
    differ = sorted(k for k in set(old) | set(now) if old.get(k, "(unset)") != now.get(k, "(unset)"))
    if not differ:
        return None
    diffs = ", ".join(f"{k}: {old.get(k, '(unset)')!r} there, {now.get(k, '(unset)')!r} now"
                      for k in differ)
    return (f"{out} holds the summary of other settings ({diffs}). Use another "
            f"folder ({flag} {out}-2) or delete {path} to replace that summary; the "
            f"finished runs in {out / 'runs'} are kept and reused either way.")


def write_summary(out: Path, summary: dict[str, Any], table: str) -> None:
    """summary.json (the numbers) and summary.txt (the table), each written whole; a listing
    left by a failed summary goes."""
    atomic_write_text(out / "summary.json", json.dumps(json_safe(summary), indent=1))
    atomic_write_text(out / "summary.txt", table + "\n")
    (out / FAILED_LISTING).unlink(missing_ok=True)


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


FAILED_LISTING = "summary_failed.txt"  # the listing, where summary.txt is a good summary


@contextlib.contextmanager
def listing_runs_on_failure(out: Path) -> Iterator[None]:
    """If the summary fails after runs were trained, summary.txt lists them (and why); a good
    summary already there is kept, and the listing goes beside it (summary_failed.txt)."""
    try:
        yield
    except (SettingError, FolderError, RecordError, CheckpointError, Diverged, ProgramChanged):
        raise  # refused before training, or an error that names its file: left as it was
    except (ValueError, ArithmeticError, KeyError, TypeError) as e:
        if (out / "runs").is_dir() and distributed.is_main():
            where = list_runs(out, e)
            print(f"error: the summary failed; {where} lists the runs in {out / 'runs'}.",
                  file=sys.stderr)
        raise


def list_runs(out: Path, error: BaseException) -> Path:
    """When the summary fails, summary.txt still lists the folder's runs, and why (or
    summary_failed.txt, where summary.txt is a good summary). Returns the file written."""
    lines = [f"{LISTING_HEAD} {type(error).__name__}: {error}", "", "Runs in this folder:"]
    for path in sorted((out / "runs").glob("*.json")):
        try:
            rec = Record.load(path)
            done = "finished" if "cache_spec" in rec.meta else "unfinished"
            loss = f"{rec.final_val_loss:.4f}" if rec.history else "-"
            lines.append(f"  {path.name}  {rec.name}  seed {rec.meta.get('seed')}  {done}  val loss {loss}")
        except (OSError, ValueError) as e:
            lines.append(f"  {path.name}  unreadable: {e}")
    where = out / ("summary.txt" if not ours(out / "summary.json") else FAILED_LISTING)
    atomic_write_text(where, "\n".join(lines) + "\n")
    return where
