"""A study's runs in parallel 1-thread worker processes: the numbers of one process at one
thread, every run trained once, errors that name the fix."""

import os

import pytest
import torch

from growkit import Study, Variant, workers
from growkit.settings import SettingError

VARIANTS = [Variant("stack", "depth", 4), Variant("zero", "depth", 2)]


def numbers(study: Study) -> list[list[tuple]]:
    recs = [study.scratch, *(study.add(v) for v in VARIANTS), *(study.small_alone(v) for v in VARIANTS)]
    return [[(h["step"], h["flops"], h["val_loss"], h["train_loss"]) for h in r.history] for r in recs]


def test_two_workers_give_the_numbers_of_one_process_at_one_thread(tmp_path, monkeypatch):
    parallel = Study.from_preset("smoke", progress=False, cache_dir=tmp_path / "parallel")
    parallel.run(VARIANTS, workers=2)
    records = sorted((tmp_path / "parallel").glob("*.json"))
    # scratch, 1L and 2L alone, two grown runs: each trained once, each at one thread
    assert len(records) == 5
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

    monkeypatch.setattr(workers, "one_thread_pool", no_pool)
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
    assert workers.resolve_workers("auto") == cores
    said = Study.from_preset("smoke", progress=False, cache_dir=tmp_path).describe("auto")
    assert ("1 thread per run, up to" in said) == (cores > 1)  # what the notebooks print first
    with pytest.raises(SettingError, match="'auto'"):
        workers.resolve_workers("all")
    study = Study.from_preset("smoke", progress=False)  # no cache folder: trained here
    (row,) = study.run([VARIANTS[1]], workers="auto")
    assert study.scratch.meta["threads"] == torch.get_num_threads()
    assert f"at {torch.get_num_threads()} thread(s) per run" in study.describe("auto")
    assert row.val_loss > 0
