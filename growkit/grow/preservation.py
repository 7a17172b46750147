"""Measure whether a grown model computes the same function as the model it grew from."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def measure_preservation(before: nn.Module, after: nn.Module, x: torch.Tensor,
                         y: torch.Tensor | None = None) -> dict[str, float]:
    """max |logits_after - logits_before| on a batch, and the change in loss when targets
    are given. Both models are evaluated in eval mode and restored afterwards."""
    modes = before.training, after.training
    before.eval()
    after.eval()
    try:
        logits_b, loss_b = before(x, y)
        logits_a, loss_a = after(x, y)
    finally:
        before.train(modes[0])
        after.train(modes[1])
    out = {"max_abs_logits": float((logits_a.float() - logits_b.float()).abs().max())}
    if y is not None:
        out["loss_before"] = float(loss_b)
        out["loss_after"] = float(loss_a)
        out["delta_loss"] = float(loss_a) - float(loss_b)
    return out
