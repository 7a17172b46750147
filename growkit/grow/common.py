"""Small helpers shared by the GPT growth operators (depth, width and learned)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from ..gpt import GPT, GPTConfig


def require_gpt(model: object, op: str, dim: str = "depth") -> GPT:
    if not isinstance(model, GPT):
        raise TypeError(
            f"{dim} operator {op!r} grows a growkit GPT, got {type(model).__name__}: "
            "for the template CNN use dim='width' with op='mixture'; for the plain CNN, "
            "dim='width' with op='random', 'zero' or 'net2wider'."
        )
    return model


def device_of(model: GPT) -> torch.device:
    return next(model.parameters()).device


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Draw from a generator seeded with `seed` (the global RNG left as it was), or from
    the global RNG when seed is None. Tensors are drawn on the CPU, so forking the CPU
    generator is enough."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def fresh_gpt(cfg: GPTConfig, like: GPT, seed: int | None = None) -> GPT:
    """A GPT with the model's own initialisation (`GPT.init_weights`, applied at
    construction), on the same device as `like`.

    `seed` makes the draw independent of the global RNG (e.g. identical on every DDP
    rank); None draws from the global RNG like any `GPT(cfg)`.
    """
    with seeded(seed):
        return GPT(cfg).to(device_of(like))
