"""The Trainer's fast paths change no result: losses stay on the device and are checked for
NaN every `nan_check_every` steps, torch.compile is optional and falls back to eager.

A real torch.compile takes 15-30 s on a cold cache on 2 cores, so the test that compiles
runs only with GROWKIT_TEST_COMPILE=1 (tools/bench.py measures compiled runs anyway)."""

import math
import os

import pytest
import torch
from torch import nn

from growkit import GPT, GPTConfig, TrainConfig, Trainer, train
from growkit.device import Runtime, should_compile
from growkit.settings import SettingError


def config(**kw):
    return TrainConfig(**{**dict(steps=24, batch_size=8, lr=3e-3, warmup=3, eval_every=9,
                                 eval_batches=2), **kw})


def tiny(corpus, seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=corpus.vocab_size, block_size=16, n_layer=1, n_head=2,
                         n_embd=16))


def numbers(record):
    return [{k: v for k, v in h.items() if k != "wall_s"} for h in record.history]


def test_the_nan_check_interval_changes_no_number(corpus):
    """The train loss of each evaluation is the mean of the same per-step losses in the same
    order, whether they are read every step or every 7 (evaluations every 9)."""
    every_step = train(tiny(corpus), corpus, config(), progress=False, runtime=Runtime(nan_check_every=1))
    every_7 = train(tiny(corpus), corpus, config(), progress=False, runtime=Runtime(nan_check_every=7))
    assert numbers(every_step) == numbers(every_7)
    assert all(p["compiled"] is False for p in every_7.phases)  # eager on a CPU by default


class PoisonedAt(GPT):
    """A GPT whose training loss becomes NaN at one step (counted in training forwards)."""

    bad_step = 13

    def forward(self, idx, targets=None):
        logits, loss = super().forward(idx, targets)
        if self.training:
            self.calls = getattr(self, "calls", 0) + 1
            if self.calls - 1 == self.bad_step:
                loss = loss * math.nan
        return logits, loss


def test_divergence_is_caught_within_the_interval_and_named(corpus, tmp_path):
    torch.manual_seed(0)
    model = PoisonedAt(GPTConfig(vocab_size=corpus.vocab_size, block_size=16, n_layer=1,
                                 n_head=2, n_embd=16))
    trainer = Trainer(model, corpus, config(eval_every=100, steps=40), progress=False,
                      out_dir=tmp_path, name="p", runtime=Runtime(nan_check_every=5))
    with pytest.raises(FloatingPointError, match="at step 13 .*lower the learning rate or raise warmup"):
        trainer.fit()
    assert trainer.ledger.step <= 13 + 5  # stopped at the first check after it
    assert (tmp_path / "p.json").exists()  # the record so far is kept


def test_a_bad_nan_check_interval_is_named(corpus):
    with pytest.raises(SettingError, match="nan_check_every must be a whole number >= 1, got 0"):
        Trainer(tiny(corpus), corpus, config(), runtime=Runtime(nan_check_every=0))


def test_compile_default_and_its_override(monkeypatch):
    monkeypatch.delenv("GROWKIT_COMPILE", raising=False)
    assert should_compile(torch.device("cuda")) is True
    assert should_compile(torch.device("cpu")) is False
    assert should_compile(torch.device("cpu"), True) is True
    monkeypatch.setenv("GROWKIT_COMPILE", "1")
    assert should_compile(torch.device("cpu")) is True
    assert should_compile(torch.device("cuda"), False) is False
    monkeypatch.setenv("GROWKIT_COMPILE", "maybe")
    with pytest.raises(SettingError, match="GROWKIT_COMPILE must be 1 or 0, got 'maybe'"):
        should_compile(torch.device("cpu"))


class NoCompiler(nn.Module):
    """What torch.compile gives where the compiler cannot run: it fails on the first call."""

    def __init__(self, module):
        super().__init__()
        self._orig_mod = module

    def forward(self, *args, **kwargs):
        raise RuntimeError("InductorError: no working C++ compiler found")


def test_a_failing_compiler_falls_back_to_eager(corpus, monkeypatch, capsys):
    monkeypatch.setattr(torch, "compile", lambda module, **kw: NoCompiler(module))
    fallback = train(tiny(corpus), corpus, config(), progress=False, runtime=Runtime(compile=True))
    note = capsys.readouterr().out
    assert "torch.compile failed here" in note and "training eagerly" in note
    assert len(note.strip().splitlines()) == 1
    assert fallback.phases[0]["compiled"] is False
    eager = train(tiny(corpus), corpus, config(), progress=False, runtime=Runtime(compile=False))
    assert numbers(fallback) == numbers(eager)


def test_a_torch_that_refuses_to_compile_trains_eagerly(corpus, monkeypatch, capsys):
    def refuse(module, **kw):
        raise RuntimeError("torch.compile is not supported on this Python")

    monkeypatch.setattr(torch, "compile", refuse)
    record = train(tiny(corpus), corpus, config(steps=4), progress=False, runtime=Runtime(compile=True))
    assert "torch.compile failed here (RuntimeError" in capsys.readouterr().out
    assert record.phases[0]["compiled"] is False


@pytest.mark.skipif(os.environ.get("GROWKIT_TEST_COMPILE") != "1",
                    reason="a real torch.compile takes 15-30 s here: GROWKIT_TEST_COMPILE=1")
def test_compiled_training_matches_eager_and_recompiles_after_growth(corpus):
    def run(compile):
        trainer = Trainer(tiny(corpus), corpus, config(), progress=False, runtime=Runtime(compile=compile))
        trainer.fit()
        trainer.grow("stack", factor=2, config=config(steps=12))
        trainer.fit()
        return trainer.record

    eager, compiled = run(False), run(True)
    assert [p["compiled"] for p in compiled.phases] == [True, True]
    assert all(p["compile_s"] > 0 for p in compiled.phases)  # once per model, growth included
    for a, b in zip(eager.history, compiled.history, strict=True):
        assert b["val_loss"] == pytest.approx(a["val_loss"], rel=1e-4)


def test_gpu_check_refuses_without_a_gpu(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    if torch.cuda.is_available():
        pytest.skip("a GPU is here: the check would run for real")
    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if k != "GPU_CHECK_ALLOW_CPU"}
    done = subprocess.run([sys.executable, str(root / "tools" / "gpu_check.py"), "--out",
                           str(tmp_path / "gc")], capture_output=True, text=True, env=env)
    assert done.returncode == 2
    assert "no CUDA GPU here" in done.stderr and "GPU_CHECK_ALLOW_CPU=1" in done.stderr
    assert not (tmp_path / "gc").exists()  # nothing written


def test_bench_knows_the_published_peaks(monkeypatch):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "tools" / "bench.py"
    spec = importlib.util.spec_from_file_location("growkit_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    cuda = torch.device("cuda")
    for name, peak in [("NVIDIA H100 80GB HBM3", (989.0, "bf16")), ("NVIDIA H100 PCIe", (756.0, "bf16")),
                       ("Tesla T4", (65.0, "fp16")), ("NVIDIA L4", (121.0, "bf16")),
                       ("NVIDIA A100-SXM4-40GB", (312.0, "bf16")), ("Some New GPU", None)]:
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None, n=name: n)
        assert bench.published_peak(cuda) == peak, name
    assert bench.published_peak(torch.device("cpu")) is None
