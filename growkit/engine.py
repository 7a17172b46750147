"""What trains one phase: the model, wrapped for several processes, compiled when chosen, in
the precision its device gets; its forward and backward in one call.

    engine = Engine(model, device, compile=None, name="scratch")
    loss = engine.forward_backward(x, y, optimizer)   # then clip, engine.scaler.step(...)

The Trainer builds one per phase (growth makes a new model, so a new engine). Machinery, not
the lesson: a reader of the training loop can take `forward_backward` as nanoGPT's three
lines (autocast forward, zero_grad, scaled backward).
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn

from . import distributed
from .device import policy


class Engine:
    def __init__(self, model: nn.Module, device: torch.device, *, compile: bool | None,
                 name: str, find_unused_parameters: bool = False) -> None:
        """`model` trains through DDP under torchrun (rebuilt every phase, on every rank; a
        TemplateCNN training one member leaves the other's coefficients unused, which DDP must
        be told) and torch.compile when `compile` (None: growkit.device.should_compile). The
        first forward_backward compiles, timed; a compiler that fails falls back to eager
        with a one-line note naming `name`."""
        chosen = policy(device, compile)
        self.device, self.name = device, name
        self.autocast, self.scaler, self.compiled = chosen.autocast, chosen.scaler, chosen.compile
        self.compile_s: float | None = None  # set by the first step when compiled
        self.first_step = True
        options = dict(find_unused_parameters=find_unused_parameters)
        try:
            self.module = distributed.wrap(model, compile=self.compiled, **options)
        except Exception as e:  # refused at once (e.g. a Python this torch cannot compile)
            if not self.compiled:
                raise
            self._fall_back(e)
            self.module = distributed.wrap(model, **options)

    def forward_backward(self, x: torch.Tensor, y: torch.Tensor, optimizer: torch.optim.Optimizer,
                         **forward: Any) -> torch.Tensor:
        """The loss of (x, y) and its gradients (scaled for fp16) in the parameters."""
        if not self.first_step:
            return self._forward_backward(x, y, optimizer, forward)
        self.first_step = False
        t0 = time.perf_counter()
        try:
            loss = self._forward_backward(x, y, optimizer, forward)
        except Exception as e:  # any compiler failure; a real error recurs below, eagerly
            if not self.compiled:
                raise
            self._fall_back(e)
            loss = self._forward_backward(x, y, optimizer, forward)  # nothing stepped: the same step
        if self.compiled:
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)  # the compile's time, not its launch's
            self.compile_s = time.perf_counter() - t0
        return loss

    def _forward_backward(self, x: torch.Tensor, y: torch.Tensor, optimizer: torch.optim.Optimizer,
                          forward: dict[str, Any]) -> torch.Tensor:
        with self.autocast:
            _, loss = self.module(x, y, **forward)
        optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        return loss

    def _fall_back(self, error: Exception) -> None:
        """Train eagerly from here on, and say so in one line."""
        first = (str(error).strip().splitlines() or [""])[0][:160]
        print(f"{self.name}: note: torch.compile failed here ({type(error).__name__}: {first}); "
              "training eagerly instead (Runtime(compile=False) or GROWKIT_COMPILE=0 skips "
              "trying).", flush=True)
        module = getattr(self, "module", None)
        self.module = getattr(module, "_orig_mod", module)
        self.compiled = False
