"""What this machine can do, decided once: the preset `auto` picks, the precision a run
trains in and whether it compiles. `study.pick_preset` asks `choose()`; a Trainer asks
`policy()` once per phase for its autocast, grad scaler and compile decision.

    choose()                        # this machine's default device
    choose(torch.device("cuda:1"))  # one GPU of several
    policy(torch.device("cpu"))     # fp32, no scaler, eager

bf16 autocast only where the GPU has bf16 units (compute capability 8.0 and above: A100,
L4, H100, RTX 30xx and later). `torch.cuda.is_bf16_supported()` is not that test: it is
True on a T4 (7.5) too, where bf16 is emulated (slow) and cuDNN has no bf16 convolutions.
Below 8.0 a GPU trains in fp16 with a gradient scaler, at the `t4` preset (Colab's free
GPU). Anything else (a CPU, Apple's MPS) trains in fp32 at the `cpu` preset.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch

from .settings import SettingError

# The first compute capability with native bf16 (Ampere).
BF16_CAPABILITY = (8, 0)


@dataclass(frozen=True)
class DeviceChoice:
    device: str  # "cuda", "mps" or "cpu"
    name: str  # e.g. "Tesla T4", "cpu"
    capability: tuple[int, int] | None  # CUDA compute capability; None off CUDA
    preset: str  # what PRESET="auto" means here: "gpu", "t4" or "cpu"
    dtype: torch.dtype | None  # autocast dtype; None: fp32, no autocast
    needs_scaler: bool  # fp16 needs a gradient scaler

    def describe(self) -> str:
        cap = "" if self.capability is None else f" (compute capability {self.capability[0]}.{self.capability[1]})"
        precision = {torch.bfloat16: "bf16 autocast", torch.float16: "fp16 autocast with a grad scaler",
                     None: "fp32"}[self.dtype]
        return f"{self.name}{cap}: preset '{self.preset}', {precision}"


def auto_device() -> torch.device:
    """cuda > mps > cpu: the device a Trainer uses unless told otherwise."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def choose(device: str | torch.device | None = None) -> DeviceChoice:
    """The preset and the training precision for `device` (default: this machine's)."""
    device = auto_device() if device is None else torch.device(device)
    if device.type == "cuda":
        capability = tuple(torch.cuda.get_device_capability(device))
        name = torch.cuda.get_device_name(device)
        if capability >= BF16_CAPABILITY:
            return DeviceChoice("cuda", name, capability, "gpu", torch.bfloat16, False)
        return DeviceChoice("cuda", name, capability, "t4", torch.float16, True)
    return DeviceChoice(device.type, device.type, None, "cpu", None, False)


@dataclass(frozen=True)
class Runtime:
    """How a run's arithmetic is carried out; none of it is a setting of the experiment.

    `device`: None for this machine's (under torchrun, this rank's GPU). `compile`: train
    through torch.compile (None: GROWKIT_COMPILE=1/0 if set, else on for CUDA only; see
    `should_compile`). `nan_check_every`: per-step losses stay on the device and are checked
    for finiteness every this many steps (and before every evaluation and checkpoint): one
    host sync per check instead of two per step; a divergence names its step either way."""

    device: str | torch.device | None = None
    compile: bool | None = None
    nan_check_every: int = 10

    def __post_init__(self) -> None:
        n = self.nan_check_every
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise SettingError(f"nan_check_every must be a whole number >= 1, got {n!r}: "
                               "e.g. nan_check_every=10.")
        if self.compile not in (None, True, False):
            raise SettingError(f"compile must be True, False or None (auto), got {self.compile!r}.")


@dataclass
class Policy:
    """What one phase trains with: autocast (bf16, fp16 or none), a grad scaler (enabled for
    fp16 only: a disabled scaler passes every call through, so one training path serves all,
    as nanoGPT's), and whether to compile."""

    autocast: contextlib.AbstractContextManager
    scaler: torch.amp.GradScaler
    compile: bool


def policy(device: torch.device, compile: bool | None = None) -> Policy:
    """The precision (growkit.device.choose: compute capability decides; a T4 emulates bf16,
    slowly) and the compile decision for training on `device`."""
    chosen = choose(device)
    autocast: contextlib.AbstractContextManager = (
        contextlib.nullcontext() if chosen.dtype is None
        else torch.autocast(device.type, dtype=chosen.dtype))
    return Policy(autocast, torch.amp.GradScaler("cuda", enabled=chosen.needs_scaler),
                  should_compile(device, compile))


def should_compile(device: torch.device, setting: bool | None = None) -> bool:
    """Whether a Trainer compiles: `setting` if given, else GROWKIT_COMPILE=1/0 if set, else
    on for CUDA only. On the course's 2-core CPU compiling (about 20-30 s a model shape, a
    few with a warm cache) makes the 4-block model's steps about 1.5x faster but the 1-block
    model's none, and a course run is a minute or two: no clear gain, and eager keeps the
    course's published numbers (tools/bench.py measures it on any machine)."""
    if setting is not None:
        return setting
    env = os.environ.get("GROWKIT_COMPILE", "").strip().lower()
    if env in ("1", "true", "yes", "on"):
        return True
    if env in ("0", "false", "no", "off"):
        return False
    if env:
        raise SettingError(f"GROWKIT_COMPILE must be 1 or 0, got {env!r}: e.g. GROWKIT_COMPILE=0.")
    return device.type == "cuda"
