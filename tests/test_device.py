"""One function decides the preset and the precision per device (growkit.device.choose),
checked here with the GPU's properties faked: a T4 (7.5) claims bf16 support but emulates it."""

from __future__ import annotations

import importlib

import pytest
import torch

from growkit import device, mixture_study, study

train = importlib.import_module("growkit.train")  # the module (growkit.train is also a function)

GPUS = {  # name: (compute capability, what torch.cuda.is_bf16_supported() says there)
    "Tesla T4": ((7, 5), True),  # emulated bf16: is_bf16_supported() is True anyway
    "Tesla V100-SXM2-16GB": ((7, 0), True),
    "NVIDIA A100-SXM4-40GB": ((8, 0), True),
    "NVIDIA L4": ((8, 9), True),
    "NVIDIA H100 80GB HBM3": ((9, 0), True),
}


@pytest.fixture
def fake_gpu(monkeypatch):
    def install(name: str) -> None:
        capability, bf16 = GPUS[name]
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: capability)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: name)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)

    return install


@pytest.mark.parametrize("name", sorted(GPUS))
def test_bf16_only_from_compute_capability_8(fake_gpu, name):
    fake_gpu(name)
    chosen = device.choose()
    modern = GPUS[name][0] >= (8, 0)
    assert chosen.device == "cuda" and chosen.name == name
    assert chosen.preset == ("gpu" if modern else "t4")
    assert chosen.dtype == (torch.bfloat16 if modern else torch.float16)
    assert chosen.needs_scaler is (not modern)
    # The two callers agree with it: PRESET="auto" and the trainer's autocast.
    assert study.pick_preset("auto") == chosen.preset
    assert mixture_study.preset("auto") == mixture_study.MixtureConfig(**mixture_study.PRESETS[chosen.preset])
    chosen_policy = device.policy(torch.device("cuda"))
    assert isinstance(chosen_policy.autocast, torch.autocast)
    assert chosen_policy.autocast.fast_dtype == chosen.dtype
    assert chosen_policy.scaler.is_enabled() is chosen.needs_scaler
    assert name in chosen.describe() and chosen.preset in chosen.describe()


def test_t4_is_fp16_with_a_scaler_although_torch_says_bf16(fake_gpu):
    fake_gpu("Tesla T4")
    assert torch.cuda.is_bf16_supported()  # the trap: emulated bf16 counts as supported
    chosen = device.choose()
    assert (chosen.preset, chosen.dtype, chosen.needs_scaler) == ("t4", torch.float16, True)
    assert "7.5" in chosen.describe() and "fp16" in chosen.describe()


def test_cpu_trains_in_fp32_at_the_cpu_preset(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    chosen = device.choose()
    assert chosen.device in ("cpu", "mps") and chosen.preset == "cpu"
    assert chosen.dtype is None and not chosen.needs_scaler and chosen.capability is None
    assert study.pick_preset("auto") == "cpu"
    cpu_policy = device.policy(torch.device("cpu"))
    assert not isinstance(cpu_policy.autocast, torch.autocast) and not cpu_policy.scaler.is_enabled()
    assert cpu_policy.compile is False


def test_a_named_preset_is_kept_whatever_the_device(fake_gpu):
    fake_gpu("Tesla T4")
    assert study.pick_preset("gpu") == "gpu" and study.pick_preset("smoke") == "smoke"
    with pytest.raises(ValueError, match="unknown preset"):
        study.pick_preset("CPU")


def test_a_notebook_says_which_gpu_it_found_and_what_it_does_there(fake_gpu, capsys):
    from growkit import course

    fake_gpu("Tesla T4")
    course.begin("t4", "preset t4 on cuda")
    out = capsys.readouterr().out
    assert "Tesla T4 (compute capability 7.5): preset 't4', fp16 autocast with a grad scaler" in out
    assert "SMOKE" not in out
