"""Run folders (growkit.runs): how runs are run changes no number. A study's runs in parallel
1-thread worker processes give the numbers of one process at one thread, every run trained
once; run options are checked with errors that name the fix; shared beginnings are named by
the run cache's hash."""

import ast
import os
import re

import pytest
import torch

from growkit import Study, Variant, runs
from growkit.runs import RunCache, RunOptions
from growkit.settings import SettingError

VARIANTS = [Variant("stack", "depth", 4), Variant("zero", "depth", 2)]


def numbers(study: Study) -> list[list[tuple]]:
    recs = [study.scratch, *(study.add(v) for v in VARIANTS), *(study.small_alone(v) for v in VARIANTS)]
    return [[(h["step"], h["flops"], h["val_loss"], h["train_loss"]) for h in r.history] for r in recs]


def test_two_workers_give_the_numbers_of_one_process_at_one_thread(tmp_path, monkeypatch):
    parallel = Study.from_preset("smoke", progress=False, cache_dir=tmp_path / "parallel")
    assert len(parallel.jobs(VARIANTS)) == 5  # scratch, 1L and 2L alone, two grown runs
    parallel.run(VARIANTS, workers=2)
    records = sorted((tmp_path / "parallel").glob("*.json"))
    # each trained once, each at one thread, each under its job's name in the cache
    assert len(records) == 5
    assert {p.stem for p in records} == {RunCache.key(job.spec) for job in parallel.jobs(VARIANTS)}
    assert {parallel.scratch.meta["threads"], *(parallel.add(v).meta["threads"] for v in VARIANTS)} == {1}

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        serial = Study.from_preset("smoke", progress=False, cache_dir=tmp_path / "serial")
        serial.run(VARIANTS)
    finally:
        torch.set_num_threads(threads)
    assert numbers(parallel) == numbers(serial)  # bit for bit

    # Asked again, every run is in the folder: no process starts (a second `make demo`).
    def no_pool(count):
        raise AssertionError(f"started {count} processes for runs already cached")

    monkeypatch.setattr(runs, "one_thread_pool", no_pool)
    again = Study.from_preset("smoke", progress=False, cache_dir=tmp_path / "parallel")
    assert [r.val_loss for r in again.run(VARIANTS, workers=2)] == [
        r.val_loss for r in parallel.run(VARIANTS)]


def test_workers_need_a_cache_folder_and_a_count():
    study = Study.from_preset("smoke", progress=False)
    with pytest.raises(SettingError, match="cache_dir="):
        study.run(VARIANTS, workers=2)
    with pytest.raises(SettingError, match="workers=2"):
        study.run(VARIANTS, workers=0)


def test_auto_is_one_process_per_core_on_a_cpu_and_this_one_without_a_folder(tmp_path):
    cores = len(os.sched_getaffinity(0))
    assert runs.auto_workers() == cores
    assert RunOptions(workers="auto", cache_dir=tmp_path).processes() == cores
    said = Study.from_preset("smoke", progress=False, cache_dir=tmp_path).describe("auto")
    assert ("1 thread per run, up to" in said) == (cores > 1)  # what the notebooks print first
    with pytest.raises(SettingError, match="'auto'"):
        RunOptions(workers="all")
    study = Study.from_preset("smoke", progress=False)  # no cache folder: trained here
    (row,) = study.run([VARIANTS[1]], workers="auto")
    assert study.scratch.meta["threads"] == torch.get_num_threads()
    assert f"at {torch.get_num_threads()} thread(s) per run" in study.describe("auto")
    assert row.val_loss > 0


@pytest.mark.parametrize(("kwargs", "phrase"), [
    (dict(seeds=[]), "RunOptions.seeds must be a non-empty list of seeds"),
    (dict(seeds=[0.5]), "RunOptions.seeds must be a list of int"),
    (dict(checkpoint_every=0), "RunOptions.checkpoint_every must be >= 1"),
    (dict(checkpoint_minutes=0), "RunOptions.checkpoint_minutes must be > 0"),
    (dict(prune="yes"), "RunOptions.prune must be a true/false"),
    (dict(workers=0), "workers must be a whole number >= 1 or 'auto'"),
])
def test_run_options_name_the_problem_and_a_fix_that_works(kwargs, phrase):
    with pytest.raises(SettingError, match=re.escape(phrase)) as info:
        RunOptions(**kwargs)
    key, value = re.search(r"e\.g\. (\w+)=([^ ]+?)\.?(?: |$)", str(info.value)).groups()
    assert key == next(iter(kwargs))
    RunOptions(**{key: ast.literal_eval(value)})  # the fix, pasted, is accepted


def test_a_read_only_cache_trains_nothing_and_leaves_no_trace(tmp_path):
    folder = tmp_path / "none-yet"
    with pytest.raises(runs.NotCached):
        RunCache(folder, readonly=True).get({"kind": "x"}, "x", lambda out, stem: 1 / 0)
    assert not folder.exists()
    reader = Study.from_preset("smoke", progress=False, cache_dir=folder).reader()
    with pytest.raises(runs.NotCached):
        reader.train_alone(reader.target)
    assert not folder.exists()


def test_shared_beginnings_are_named_by_the_run_cache_hash(tmp_path):
    path = runs.shared_start(tmp_path, family="mixture", seed=0)
    assert path.parent == tmp_path and path.name.startswith("start-") and path.name.endswith(".resume.pt")
    assert runs.shared_start(tmp_path, family="mixture", seed=0) == path
    assert runs.shared_start(tmp_path, family="mixture", seed=1) != path
    assert runs.shared_start(None, family="mixture", seed=0) is None


def test_a_study_takes_its_folder_alone_or_in_its_options_not_both(tmp_path):
    options = RunOptions(cache_dir=tmp_path, checkpoint_every=5, prune=True)
    study = Study.from_preset("smoke", options=options)
    assert study.cache.folder == tmp_path and study.cache.prune and study.options is options
    with pytest.raises(TypeError, match="not both"):
        Study.from_preset("smoke", cache_dir=tmp_path, options=options)


# A parent that starts two workers (each prints its pid and sleeps), then waits on them.
ORPHANS = r"""
import os, sys, time
from growkit.runs import one_thread_pool

def nap(seconds):
    print(os.getpid(), flush=True)
    time.sleep(seconds)

if __name__ == "__main__":
    pool = one_thread_pool(2)
    futures = [pool.submit(nap, 120) for _ in range(2)]
    futures[0].result()
"""


def test_workers_die_with_their_parent_killed_outright(tmp_path):
    """SIGKILL runs no clean-up in the parent: its workers, adopted by init, used to train on
    (and keep their memory) for good."""
    import signal
    import subprocess
    import sys
    import time

    if not os.path.isdir("/proc"):
        pytest.skip("reads /proc to tell a live process from a zombie")
    script = tmp_path / "parent.py"
    script.write_text(ORPHANS)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": os.getcwd()})
    workers = [int(parent.stdout.readline()) for _ in range(2)]
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()

    def alive(pid):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        with open(f"/proc/{pid}/stat") as f:  # a zombie waiting for init to reap it is gone too
            return f.read().split(")")[-1].split()[0] != "Z"

    deadline = time.monotonic() + 30
    while any(map(alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [pid for pid in workers if alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)  # the test's own processes: never left behind
    assert left == []


def test_a_workers_file_error_comes_back_as_itself():
    """growkit's file errors take (path, problem): unpickled from their message alone they
    broke the pool instead of giving their one line."""
    import pickle

    from growkit.checkpoint import CheckpointError

    def broken():
        raise CheckpointError("runs/x.resume.pt", "it is truncated")

    with pytest.raises(CheckpointError) as info:
        runs.run_job(broken)
    back = pickle.loads(pickle.dumps(info.value))
    assert type(back) is CheckpointError and str(back) == str(info.value) and back.path == info.value.path
