"""What this machine can do, decided once: the preset `auto` picks and the precision a run
trains in. Both `study.pick_preset` and `train.autocast_for` ask `choose()`.

    choose()                        # this machine's default device
    choose(torch.device("cuda:1"))  # one GPU of several

bf16 autocast only where the GPU has bf16 units (compute capability 8.0 and above: A100,
L4, H100, RTX 30xx and later). `torch.cuda.is_bf16_supported()` is not that test: it is
True on a T4 (7.5) too, where bf16 is emulated (slow) and cuDNN has no bf16 convolutions.
Below 8.0 a GPU trains in fp16 with a gradient scaler, at the `t4` preset (Colab's free
GPU). Anything else (a CPU, Apple's MPS) trains in fp32 at the `cpu` preset.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

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
