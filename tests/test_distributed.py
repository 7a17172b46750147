"""Data-parallel training (growkit.distributed) on a CPU: 2 processes on the gloo backend,
started the way torchrun starts them (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR/PORT in the
environment), train a grown run through the run cache. Its record must be the 1-process
run's with the same global batch: the ledger (steps, samples, tokens, FLOPs) exactly, the
losses to float rounding. Why not bit for bit: one process takes the mean over the whole
batch in one sum; two take a mean over each half and DDP averages the two gradients, so
the same numbers are added in another order (float addition is not associative) and the
weights part in the last bits, a few 1e-7 of a loss after 24 steps."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from growkit import Record, distributed
from growkit.runs import RunCache
from growkit.settings import SettingError

ROOT = Path(__file__).resolve().parents[1]

# One grown run through the run cache, as a study trains it: a 1-block GPT for 12 steps at a
# global batch of 8, G_stack x2 with the optimizer's moments carried, the 2-block one for 12
# more; an evaluation every 4 steps, a resumable checkpoint every 5. argv: folder, stop
# ("" or "at:N": the job stops after N steps of phase 0, as a cancelled job would; "nan:N":
# rank 1's loss alone is NaN at its N-th training step). Prints its record (every rank holds
# one) and the files this rank wrote or deleted in the folder.
WORKER = r"""
import atexit, builtins, os, pathlib, sys
import torch
torch.set_num_threads(1)
from growkit import GPT, GPTConfig, TrainConfig, Trainer, distributed, load_text
from growkit.resume import Checkpointing
from growkit.runs import RunCache
from growkit.train import seeded

folder, stop = pathlib.Path(sys.argv[1]).resolve(), sys.argv[2]
touched = []
def watch(path):
    p = pathlib.Path(path).resolve()
    if folder in p.parents:
        touched.append(p.name)
real_open, real_replace, real_unlink = builtins.open, os.replace, pathlib.Path.unlink
def opening(file, mode="r", *a, **k):
    if isinstance(file, (str, os.PathLike)) and set(mode) & set("wxa+"):
        watch(file)
    return real_open(file, mode, *a, **k)
def replacing(src, dst, *a, **k):
    watch(dst)
    return real_replace(src, dst, *a, **k)
def unlinking(self, *a, **k):
    watch(self)
    return real_unlink(self, *a, **k)
builtins.open, os.replace, pathlib.Path.unlink = opening, replacing, unlinking
atexit.register(lambda: print("TOUCHED " + " ".join(sorted(set(touched))), flush=True))

distributed.init_from_env()
if stop.startswith("nan:") and distributed.rank() == 1:
    forward, calls = GPT.forward, [0]
    def poisoned(self, *a, **k):
        logits, loss = forward(self, *a, **k)
        if self.training:
            calls[0] += 1
            if calls[0] == int(stop[4:]):
                loss = loss * float("nan")
        return logits, loss
    GPT.forward = poisoned
corpus = load_text("kjv")
cfg = GPTConfig(vocab_size=corpus.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16)
common = dict(batch_size=int(os.environ.get("BATCH", 8)), lr=3e-3, warmup=3, eval_every=4,
              eval_batches=2, seed=0)

def train(out, stem):
    t = Trainer(seeded(0, lambda: GPT(cfg)), corpus, TrainConfig(steps=12, **common), name="grown",
                out_dir=out, progress=False, checkpointing=Checkpointing(stem=stem, every=5))
    if stop.startswith("at:"):
        t.fit(steps=int(stop[3:]))
        print("STOPPED", flush=True)
        # Leave the process group first: exiting with gloo's threads still up aborted the
        # process now and then ("terminate called without an active exception", exit -6).
        distributed.shutdown()
        sys.exit(3)
    t.fit()
    t.grow("stack", factor=2, config=TrainConfig(steps=12, **common), fresh_optimizer=False)
    t.fit()
    return t.record

record = RunCache(folder).get({"kind": "ddp-test"}, "grown", train)
print("RECORD " + record.to_json().replace(chr(10), " "), flush=True)
distributed.shutdown()
"""

KEY = RunCache.key({"kind": "ddp-test"})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(folder: Path, processes: int, stop: str = "", batch: int = 8
           ) -> list[subprocess.CompletedProcess]:
    """The worker on `processes` processes, each at 1 thread, with torchrun's environment
    (none for 1 process: a plain `python` run)."""
    base = {**os.environ, "OMP_NUM_THREADS": "1", "BATCH": str(batch)}
    base.pop("WORLD_SIZE", None)
    port = str(free_port())
    envs = [base] if processes == 1 else [
        {**base, "RANK": str(r), "LOCAL_RANK": str(r), "WORLD_SIZE": str(processes),
         "LOCAL_WORLD_SIZE": str(processes), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port}
        for r in range(processes)]
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(folder), stop], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for env in envs]
    done = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        done.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return done


def printed(proc: subprocess.CompletedProcess, tag: str) -> str:
    lines = [line for line in proc.stdout.splitlines() if line.startswith(tag + " ")]
    assert lines, (proc.returncode, proc.stdout, proc.stderr[-3000:])
    return lines[-1][len(tag) + 1:]


def numbers(record: Record) -> dict:
    """The record without wall-clock times."""
    data = json.loads(record.to_json())
    for h in data["history"]:
        h.pop("wall_s")
    return data


@pytest.fixture(scope="module")
def one_process(tmp_path_factory) -> Record:
    folder = tmp_path_factory.mktemp("one")
    (proc,) = launch(folder, 1)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return Record.load(folder / f"{KEY}.json")


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory) -> tuple[Path, list[subprocess.CompletedProcess]]:
    folder = tmp_path_factory.mktemp("two")
    procs = launch(folder, 2)
    assert [p.returncode for p in procs] == [0, 0], [p.stderr[-3000:] for p in procs]
    return folder, procs


def test_two_processes_compute_what_one_computes(one_process, two_processes):
    folder, procs = two_processes
    two = Record.load(folder / f"{KEY}.json")
    assert two.meta["world_size"] == 2 and one_process.meta["world_size"] == 1
    assert len(two.history) == len(one_process.history) == 8
    # The ledger counts the global batch: exactly the one-process numbers.
    for a, b in zip(one_process.history, two.history):
        assert {k: a[k] for k in ("step", "phase", "samples", "tokens", "flops", "lr")} == \
               {k: b[k] for k in ("step", "phase", "samples", "tokens", "flops", "lr")}
    assert [(e["step"], e["tokens"], e["flops"]) for e in one_process.events] == \
           [(e["step"], e["tokens"], e["flops"]) for e in two.events]
    # Losses: the same to float rounding (measured: a few 1e-7 apart).
    for key in ("val_loss", "train_loss"):
        a = [h[key] for h in one_process.history if h[key] is not None]
        b = [h[key] for h in two.history if h[key] is not None]
        assert b == pytest.approx(a, rel=1e-5, abs=0), key
    assert two.events[0]["preservation"]["loss_after"] == pytest.approx(
        one_process.events[0]["preservation"]["loss_after"], rel=1e-5)
    # Every rank holds the same record (rank 1's, printed, equals the file rank 0 wrote).
    rank1 = Record.from_json(printed(procs[1], "RECORD"))
    assert numbers(rank1) == numbers(two)


def test_only_rank_0_writes(two_processes):
    folder, procs = two_processes
    assert printed(procs[1], "TOUCHED") == ""
    wrote = printed(procs[0], "TOUCHED").split()
    assert f"{KEY}.json" in wrote and f"{KEY}.resume.pt" in wrote and f"{KEY}.phase1.pt" in wrote
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([f"{KEY}.json", f"{KEY}.lock", f"{KEY}.phase0.pt", f"{KEY}.phase1.pt"])


def test_a_stopped_two_process_run_resumes_to_the_same_record(two_processes, tmp_path):
    folder, _ = two_processes
    stopped = launch(tmp_path, 2, stop="at:7")  # mid-phase 0; its last checkpoint is at step 5
    assert [p.returncode for p in stopped] == [3, 3], [p.stderr[-3000:] for p in stopped]
    assert (tmp_path / f"{KEY}.resume.pt").exists()
    resumed = launch(tmp_path, 2)
    assert [p.returncode for p in resumed] == [0, 0], [p.stderr[-3000:] for p in resumed]
    assert "resuming from" in resumed[0].stdout and "at step 5" in resumed[0].stdout
    assert "resuming from" not in resumed[1].stdout  # one rank speaks for all
    assert numbers(Record.load(tmp_path / f"{KEY}.json")) == numbers(Record.load(folder / f"{KEY}.json"))
    assert not (tmp_path / f"{KEY}.resume.pt").exists()


def test_a_loss_not_finite_on_one_process_stops_every_process(tmp_path):
    procs = launch(tmp_path, 2, stop="nan:3")  # rank 1's third step: global step 2
    for p in procs:  # both stop, with the same message: no rank is left waiting for the other
        assert p.returncode == 1, (p.returncode, p.stderr[-3000:])
        assert "Diverged: grown: loss became nan at step 2" in p.stderr
    assert printed(procs[1], "TOUCHED") == ""
    assert f"{KEY}.json" in printed(procs[0], "TOUCHED").split()  # the record so far, kept


def test_a_bad_file_in_the_folder_stops_every_process(tmp_path):
    """Rank 0 alone reads the folder; what it cannot read stops every rank, with its reason."""
    (tmp_path / f"{KEY}.resume.pt").write_bytes(b"PK\x03\x04 half a checkpoint")
    procs = launch(tmp_path, 2)
    for p in procs:
        assert p.returncode == 1 and "cannot load this checkpoint" in p.stderr, p.stderr[-3000:]


def test_a_batch_that_does_not_divide_among_the_processes_is_refused(monkeypatch):
    monkeypatch.setattr(distributed, "world_size", lambda: 3)
    with pytest.raises(SettingError, match=r"batch_size=8 does not divide among 3 processes: "
                                           r"use a multiple of 3 \(e\.g\. batch_size=9 or 6\)"):
        distributed.check_batch(8)
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    distributed.check_batch(8)


def test_torchrun_runs_the_command_line_and_refuses_a_batch_it_cannot_split(tmp_path):
    """`torchrun --nproc_per_node 2 -m growkit compare`: both ranks join one gloo group and
    stop, naming the fix, before anything trains (no rank waits for the other)."""
    torchrun = Path(sys.executable).with_name("torchrun")
    done = subprocess.run([str(torchrun), "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
                           "--master_port", str(free_port()), "-m", "growkit", "compare",
                           "--preset", "smoke", "--seeds", "0", "--set", "batch_size=15",
                           "--out", str(tmp_path / "c")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode != 0
    assert done.stderr.count("error: batch_size=15 does not divide among 2 processes: use a "
                             "multiple of 2 (e.g. batch_size=16 or 14)") == 2, done.stderr[-3000:]
    assert not list((tmp_path / "c").rglob("*.json"))


def test_one_process_needs_no_process_group():
    assert not distributed.active() and distributed.world_size() == 1 and distributed.is_main()
    losses = torch.tensor([2.5, float("nan")])
    assert distributed.average(losses) is losses and distributed.broadcast({"a": 1}) == {"a": 1}
    assert distributed.shard(losses) == (losses,)


def test_a_torchrun_process_that_did_not_join_refuses_to_train(monkeypatch):
    from growkit import GPT, GPTConfig, TrainConfig, Trainer, load_text

    corpus = load_text("kjv")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(RuntimeError, match=r"WORLD_SIZE=2 .* call growkit\.distributed\.init_from_env\(\)"):
        Trainer(GPT(GPTConfig(vocab_size=corpus.vocab_size, block_size=16, n_layer=1, n_head=2,
                              n_embd=16)), corpus, TrainConfig(steps=1), progress=False)
