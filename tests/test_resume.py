"""Exact mid-run resume: a real training process is killed with SIGKILL at several points
(mid-phase, right after a checkpoint, during a checkpoint write, during growth, between
phases, after growth), re-run, and its record compared with an uninterrupted run's: on a
CPU at the same thread count every number is identical (wall_s aside)."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from growkit import GPT, GPTConfig, Record, TrainConfig, Trainer, load_text
from growkit.resume import Checkpointing, ProgramChanged
from growkit.runs import RunCache
from growkit.train import seeded

ROOT = Path(__file__).resolve().parents[1]

# One grown run through the run cache, as a study trains it: a 1-block GPT for 12 steps,
# G_stack x2, the 2-block one for 12 more; evaluations every 4 steps, a resumable
# checkpoint every 5 (not aligned with them). argv: folder, kill point ("" for none).
CHILD = r"""
import os, signal, sys
import torch
torch.set_num_threads(1)
from growkit import GPT, GPTConfig, TrainConfig, Trainer, load_text
C, T = sys.modules["growkit.checkpoint"], sys.modules["growkit.train"]
from growkit.resume import Checkpointing
from growkit.runs import RunCache
from growkit.train import seeded

folder, kill = sys.argv[1], sys.argv[2]
what, _, n = kill.partition(":")
n = int(n or 0)
count = {"batch": 0, "save": 0, "write": 0}

def die():
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)

corpus = load_text("kjv")
if what == "batch":  # at the n-th training batch of this process: between checkpoints
    batch = type(corpus).batch
    def counted(self, split, *a, **k):
        if split == "train":
            count["batch"] += 1
            if count["batch"] == n:
                die()
        return batch(self, split, *a, **k)
    type(corpus).batch = counted
elif what == "save":  # right after the n-th resumable checkpoint of this process
    save = T.Trainer.save_resumable
    def counted_save(self):
        path = save(self)
        count["save"] += 1
        if count["save"] == n:
            die()
        return path
    T.Trainer.save_resumable = counted_save
elif what == "write":  # half way through writing the n-th checkpoint file
    real = torch.save
    def half(obj, f, *a, **k):
        count["write"] += 1
        if count["write"] == n:
            f.write(b"PK\x03\x04 half a checkpoint")
            f.flush()
            die()
        return real(obj, f, *a, **k)
    C.torch.save = half
elif what == "grow":  # inside growth: the operator ran, the new phase has not begun
    grow = T.grow_with_sources
    def dying(*a, **k):
        grow(*a, **k)
        die()
    T.grow_with_sources = dying

cfg = GPTConfig(vocab_size=corpus.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16)
common = dict(batch_size=8, lr=3e-3, warmup=3, eval_every=4, eval_batches=2, seed=0)

def train(out, stem):
    t = Trainer(seeded(0, lambda: GPT(cfg)), corpus, TrainConfig(steps=12, **common), name="grown",
                out_dir=out, progress=False, checkpointing=Checkpointing(stem=stem, every=5))
    t.fit()
    t.grow("stack", factor=2, config=TrainConfig(steps=12, **common), fresh_optimizer=False)
    t.fit()
    return t.record

RunCache(folder).get({"kind": "resume-test"}, "grown", train)
print("DONE")
"""

KEY = RunCache.key({"kind": "resume-test"})


def child(folder: Path, kill: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CHILD, str(folder), kill], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def numbers(record: Record) -> dict:
    """The record without wall-clock times."""
    data = json.loads(record.to_json())
    for h in data["history"]:
        h.pop("wall_s")
    return data


def max_abs_diff(a, b) -> float:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        return max([max_abs_diff(a[k], b[k]) for k in a] or [0.0])
    if isinstance(a, list):
        assert len(a) == len(b)
        return max([max_abs_diff(x, y) for x, y in zip(a, b)] or [0.0])
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b)
    assert a == b
    return 0.0


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("uninterrupted")
    done = child(folder)
    assert "DONE" in done.stdout, done.stderr
    return numbers(Record.load(folder / f"{KEY}.json"))


# Phase 0: batches 1-12 and resumable saves at steps 5, 10 and 12 (its end); growth, a save;
# phase 1: batches 13-24, saves at its steps 5, 10, 12. Files written in order: resume@5,
# resume@10, phase0.pt, resume@12, resume after growth, resume@5 of phase 1, ... Counts are
# per process: a resumed process counts from where it resumed.
KILLS = {
    "mid-phase 0, between checkpoints": ["batch:8"],
    "between phases": ["save:3"],
    "mid-phase 1": ["batch:20"],
    # One run killed five times, each life resuming from the last one's checkpoint: right
    # after a checkpoint; while writing the phase-end checkpoint; during growth; right after
    # growth's checkpoint (a life resumed at a phase end first rewrites that phase's
    # checkpoints: save 1); mid-phase 1.
    "five kills in one run": ["save:1", "write:2", "grow", "save:2", "batch:6"],
}


@pytest.mark.parametrize("kills", list(KILLS.values()), ids=list(KILLS))
def test_a_killed_run_resumes_to_the_identical_record(kills, reference, tmp_path):
    for i, kill in enumerate(kills):
        killed = child(tmp_path, kill)
        assert i == 0 or "resuming from" in killed.stdout, (kill, killed.stdout)
        assert killed.returncode == -signal.SIGKILL, (kill, killed.stdout, killed.stderr)
        assert "DONE" not in killed.stdout
        assert not (tmp_path / f"{KEY}.json").exists() or "cache_spec" not in Record.load(
            tmp_path / f"{KEY}.json").meta
    resumed = child(tmp_path)
    assert resumed.returncode == 0 and "DONE" in resumed.stdout, resumed.stderr
    assert "resuming from" in resumed.stdout and "instead of step 0" in resumed.stdout
    record = numbers(Record.load(tmp_path / f"{KEY}.json"))
    assert max_abs_diff(record, reference) == 0.0
    assert record == reference
    # A finished run keeps no resumable checkpoint; no temporary file is left behind.
    names = sorted(p.name for p in tmp_path.iterdir())
    assert f"{KEY}.resume.pt" not in names and not [n for n in names if n.endswith(".tmp")]


# ---- in-process interruptions (a notebook's "interrupt"), and the settings around them -----

def run(out, steps_before=6, interrupt_at=None, every=None, minutes=3.0):
    corpus = load_text("kjv")
    cfg = GPTConfig(vocab_size=corpus.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16)
    tc = TrainConfig(steps=steps_before, batch_size=8, warmup=2, eval_every=3, eval_batches=2)
    torch.manual_seed(1)
    t = Trainer(GPT(cfg), corpus, tc, name="r", out_dir=out, progress=False,
                checkpointing=Checkpointing(every=every, minutes=minutes))
    if interrupt_at is not None:
        t.fit(steps=interrupt_at)
        raise KeyboardInterrupt
    t.fit()
    t.grow("zero", dim="width", factor=2, seed=0, config=tc)
    t.fit()
    return t


def test_an_interrupted_notebook_cell_resumes_exactly(tmp_path):
    whole = run(tmp_path / "a", every=2).record
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b", interrupt_at=4, every=2)
    again = run(tmp_path / "b", every=2)
    assert again.resumed_from is not None
    assert numbers(again.record) == numbers(whole)


def test_checkpointing_changes_no_number(tmp_path):
    plain = run(None).record
    every = run(tmp_path / "c", every=1).record
    timed = run(tmp_path / "d", every=None, minutes=1e-9).record
    assert numbers(plain)["history"] == numbers(every)["history"] == numbers(timed)["history"]


def test_a_resumable_checkpoint_of_other_settings_is_not_used(tmp_path, capsys):
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, interrupt_at=4, every=2)
    other = run(tmp_path, steps_before=5, every=2)  # another first phase
    assert other.resumed_from is None and "not resuming" in capsys.readouterr().out


def test_finished_runs_can_be_pruned_to_the_final_checkpoint(tmp_path):
    corpus = load_text("kjv")

    def train(out, stem):
        t = Trainer(GPT(GPTConfig(vocab_size=corpus.vocab_size, block_size=16, n_layer=1, n_head=2,
                                  n_embd=16)), corpus, TrainConfig(steps=2, batch_size=4, warmup=1, eval_every=2,
                                                  eval_batches=1), out_dir=out,
                    checkpointing=Checkpointing(stem=stem), progress=False)
        t.fit()
        t.grow("stack", factor=2, config=TrainConfig(steps=2, batch_size=4, warmup=1, eval_every=2,
                                                     eval_batches=1))
        t.fit()
        return t.record

    RunCache(tmp_path).get({"run": 1}, "kept", train)
    RunCache(tmp_path).get({"run": 2}, "pruned", train, prune=True)
    kept, pruned = RunCache.key({"run": 1}), RunCache.key({"run": 2})
    names = sorted(p.name for p in tmp_path.glob("*.pt"))
    assert names == sorted([f"{kept}.phase0.pt", f"{kept}.phase1.pt", f"{pruned}.phase1.pt"])


def test_an_interrupted_mixture_run_resumes_exactly(tmp_path, monkeypatch, capsys):
    """MixtureGrowth's three phases (member 0, member 1, grown): interrupted in the second,
    the run continues there and ends with the same record and test accuracy."""
    from growkit import mixture_study
    from growkit.images import ImageDataset, load_images
    from growkit.runs import RunOptions

    cfg, options = mixture_study.preset("smoke"), RunOptions(checkpoint_every=7, progress=False)
    data = load_images(cfg.data, augment=cfg.augment)
    whole = mixture_study.train_run(cfg, "mixture-orthogonal", 0, data, out_dir=tmp_path / "a",
                                    stem="r", options=options)
    batch, calls = ImageDataset.batch, {"train": 0}

    def interrupting(self, split, *a, **k):
        if split == "train":
            calls["train"] += 1
            if calls["train"] == 110:  # member 1's phase, its 30th batch (checkpoint at 28)
                raise KeyboardInterrupt
        return batch(self, split, *a, **k)

    monkeypatch.setattr(ImageDataset, "batch", interrupting)
    with pytest.raises(KeyboardInterrupt):
        mixture_study.train_run(cfg, "mixture-orthogonal", 0, data, out_dir=tmp_path / "b", stem="r",
                                options=options)
    monkeypatch.setattr(ImageDataset, "batch", batch)
    capsys.readouterr()
    again = mixture_study.train_run(cfg, "mixture-orthogonal", 0, data, out_dir=tmp_path / "b",
                                    stem="r", options=options)
    assert "at step 108 (phase 1, step 28 of 80)" in capsys.readouterr().out
    assert numbers(again) == numbers(whole) and again.meta["test_acc"] == whole.meta["test_acc"]


def test_a_changed_program_stops_instead_of_continuing_the_old_run(tmp_path):
    """Killed after grow('stack'), the script now says grow('zero'): the resumed run must not
    skip the new call and go on as the old one (its record would name the wrong growth)."""
    corpus = load_text("kjv")
    cfg = GPTConfig(vocab_size=corpus.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16)
    tc = TrainConfig(steps=4, batch_size=8, warmup=1, eval_every=2, eval_batches=1)

    def start():
        return Trainer(seeded(0, lambda: GPT(cfg)), corpus, tc, name="r", out_dir=tmp_path,
                       progress=False)

    first = start().fit()
    first.grow("stack", factor=2, config=tc)  # then killed: its resumable state is at phase 1
    changed = start().fit()
    with pytest.raises(ProgramChanged, match=r"started by grow\('stack', dim='depth', factor=2.*"
                                             r"now calls grow\('zero', dim='depth', factor=4.*"
                                             r"another out_dir \(or stem\) or delete .*r.resume.pt"):
        changed.grow("zero", factor=4, config=tc)
    again = start().fit()  # the same program resumes as before
    again.grow("stack", factor=2, config=tc)
    again.fit()
    assert again.resumed_from is not None and again.record.events[0]["op"] == "stack"
