"""A study's runs in parallel 1-thread worker processes: the numbers of one process at one
thread, every run trained once, errors that name the fix."""

import pytest
import torch

from growkit import Study, Variant
from growkit.settings import SettingError

VARIANTS = [Variant("stack", "depth", 4), Variant("zero", "depth", 2)]


def numbers(study: Study) -> list[list[tuple]]:
    recs = [study.scratch, *(study.add(v) for v in VARIANTS), *(study.small_alone(v) for v in VARIANTS)]
    return [[(h["step"], h["flops"], h["val_loss"], h["train_loss"]) for h in r.history] for r in recs]


def test_two_workers_give_the_numbers_of_one_process_at_one_thread(tmp_path):
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


def test_workers_need_a_cache_folder_and_a_count():
    study = Study.from_preset("smoke", progress=False)
    with pytest.raises(SettingError, match="cache_dir="):
        study.run(VARIANTS, workers=2)
    with pytest.raises(SettingError, match="workers=2"):
        study.run(VARIANTS, workers=0)
