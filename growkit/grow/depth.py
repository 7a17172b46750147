"""Depth growth for the GPT: new blocks built from the small model's blocks."""

from __future__ import annotations

import dataclasses

from ..gpt import GPT
from .registry import Growth, register


def _require_gpt(model: object, op: str) -> GPT:
    if not isinstance(model, GPT):
        raise TypeError(
            f"depth operator {op!r} grows a growkit GPT, got {type(model).__name__}: "
            "for the template CNN use dim='width' with op='mixture'."
        )
    return model


def layer_order(n_layer: int, factor: int, order: str = "stack") -> list[int]:
    """Which small block each grown block copies.

    stack:       [0..L-1] * g           (G_stack, the paper's recommended operator)
    interpolate: [0,0,..,1,1,..]        (each block repeated in place, the paper's ablation)
    """
    if order == "stack":
        return list(range(n_layer)) * factor
    if order == "interpolate":
        return [i for i in range(n_layer) for _ in range(factor)]
    raise ValueError(f"unknown layer order {order!r}: use 'stack', 'interpolate' or pass layers=[...].")


def from_layers(small: GPT, layers: list[int]) -> Growth:
    """A GPT whose block j is a copy of small block layers[j]; everything else copied."""
    L = small.config.n_layer
    bad = [i for i in layers if not 0 <= i < L]
    if not layers or bad:
        raise ValueError(f"layers must be a non-empty list of block indices in [0, {L}), got {layers}.")
    cfg = dataclasses.replace(small.config, n_layer=len(layers))
    big = GPT(cfg).to(next(small.parameters()).device)
    small_state = small.state_dict()
    new_state = {}
    sources = {}
    for name in big.state_dict():
        if name.startswith("blocks."):
            _, j, rest = name.split(".", 2)
            src = f"blocks.{layers[int(j)]}.{rest}"
        else:
            src = name
        new_state[name] = small_state[src].clone()
        sources[name] = src
    big.load_state_dict(new_state)
    return Growth(big, sources)


@register("direct", "depth", preserves_function=False)
def depth_direct(model: GPT, *, factor: int, order: str = "stack",
                 layers: list[int] | None = None) -> Growth:
    """G_direct in depth (G_stack): copy the trained blocks, by default the whole stack
    repeated `factor` times. `order="interpolate"` repeats each block in place instead;
    `layers=[...]` gives the block order explicitly (factor is then ignored)."""
    small = _require_gpt(model, "direct")
    return from_layers(small, layers if layers is not None else
                       layer_order(small.config.n_layer, factor, order))
