"""Depth growth for the GPT: new blocks built from the small model's blocks.

- `direct` (G_stack and its ablations): every grown block is a copy of a small block.
- `zero` (G_zero): the small blocks plus new blocks whose residual outputs are zero.
- `random` (G_random): the small blocks plus freshly initialised new blocks.
The learned operator (G_learn, LiGO) lives in learn.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch

from ..gpt import GPT
from .registry import Growth, fresh_model, register

PARTS = ("bottom", "middle", "top")


def partial_part_size(n_layer: int, factor: int, part_size: int | None = None) -> int:
    """How many contiguous blocks partial stacking repeats.

    The part of p blocks is repeated r times and the other n_layer - p blocks are kept
    once, so (n_layer - p) + p * r = n_layer * factor, i.e. p must divide the
    n_layer * (factor - 1) blocks to add. By default p is the valid size nearest to half
    the stack (the larger one on a tie).
    """
    if n_layer < 2:
        raise ValueError(
            f"partial stacking repeats part of the stack and keeps the rest once, so it needs "
            f"n_layer >= 2, got {n_layer}: use order='stack' (with one block the two coincide)."
        )
    extra = n_layer * (factor - 1)
    valid = [p for p in range(1, n_layer) if extra % p == 0]
    if part_size is None:
        return min(valid, key=lambda p: (abs(p - n_layer / 2), -p))
    if part_size not in valid:
        raise ValueError(
            f"part_size={part_size} cannot reach depth {n_layer * factor} from {n_layer} blocks: "
            f"the repeated part must have 1..{n_layer - 1} blocks and divide the {extra} blocks "
            f"to add; use one of part_size={valid} (or leave it out to pick the one nearest half)."
        )
    return part_size


def layer_order(n_layer: int, factor: int, order: str = "stack",
                part_size: int | None = None) -> list[int]:
    """Which small block each grown block copies.

    stack:       [0..L-1] * g           (G_stack, the paper's recommended operator)
    interpolate: [0,0,..,1,1,..]        (each block repeated in place, the paper's ablation)
    bottom / middle / top: partial stacking (the paper's other ablation): a contiguous
        part of p blocks (about half, see `partial_part_size`) is stacked r = 1 +
        L*(g-1)/p times in place, the rest kept once. With s the part's first block
        (0 for bottom, L-p for top, (L-p)//2 for middle) the grown order is
        [0..s-1] + [s..s+p-1] * r + [s+p..L-1]. E.g. L=4, g=2 (p=2, r=3):
        bottom [0,1,0,1,0,1,2,3], middle [0,1,2,1,2,1,2,3], top [0,1,2,3,2,3,2,3].
    """
    if order == "stack":
        return list(range(n_layer)) * factor
    if order == "interpolate":
        return [i for i in range(n_layer) for _ in range(factor)]
    if order in PARTS:
        p = partial_part_size(n_layer, factor, part_size)
        repeats = 1 + n_layer * (factor - 1) // p
        start = {"bottom": 0, "middle": (n_layer - p) // 2, "top": n_layer - p}[order]
        part = list(range(start, start + p))
        return list(range(start)) + part * repeats + list(range(start + p, n_layer))
    raise ValueError(
        f"unknown layer order {order!r}: use 'stack', 'interpolate', one of {PARTS} "
        "(partial stacking) or pass layers=[...]."
    )


def copy_blocks(small: GPT, n_layer: int, slots: Sequence[int | None],
                seed: int | None = None) -> Growth:
    """A GPT of `n_layer` blocks (the model's own initialisation, `seed` as in
    `fresh_model`) whose block i is a copy of small block slots[i], or keeps its fresh
    initialisation where slots[i] is None; embeddings, final norm and head copied."""
    big = fresh_model(GPT, dataclasses.replace(small.config, n_layer=n_layer), small, seed)
    small_state = small.state_dict()
    state = big.state_dict()
    sources = {}
    for name in state:
        if name.startswith("blocks."):
            _, i, rest = name.split(".", 2)
            j = slots[int(i)]
            if j is None:
                continue  # a new block: keeps its fresh initialisation
            src = f"blocks.{j}.{rest}"
        else:
            src = name
        state[name] = small_state[src].clone()
        sources[name] = src
    big.load_state_dict(state)
    return Growth(big, sources)


def from_layers(small: GPT, layers: list[int]) -> Growth:
    """A GPT whose block j is a copy of small block layers[j]; everything else copied."""
    L = small.config.n_layer
    bad = [i for i in layers if not 0 <= i < L]
    if not layers or bad:
        raise ValueError(f"layers must be a non-empty list of block indices in [0, {L}), got {layers}.")
    return copy_blocks(small, len(layers), layers)


@register("direct", "depth", GPT, label="G_stack", preserves_function=False)
def depth_direct(small: GPT, *, factor: int, order: str = "stack",
                 layers: list[int] | None = None, part_size: int | None = None) -> Growth:
    """G_direct in depth (G_stack): copy the trained blocks, by default the whole stack
    repeated `factor` times. `order="interpolate"` repeats each block in place instead;
    `order="bottom"|"middle"|"top"` is partial stacking (only that contiguous part,
    about half the blocks or `part_size` of them, is repeated; see `layer_order`);
    `layers=[...]` gives the block order explicitly (factor is then ignored)."""
    return from_layers(small, layers if layers is not None else
                       layer_order(small.config.n_layer, factor, order, part_size))


def interleaved_slots(n_layer: int, factor: int) -> list[int | None]:
    """Where the small blocks sit among new ones: small block j at grown position
    j * factor, followed by factor - 1 new blocks (None)."""
    return [j if k == 0 else None for j in range(n_layer) for k in range(factor)]


def with_new_blocks(small: GPT, factor: int, seed: int | None) -> tuple[Growth, list[int]]:
    """The small blocks kept, new blocks interleaved between them, embeddings, final norm
    and head copied. Every new block has the grown GPT's own initialisation (GPT(cfg),
    whose residual projections are scaled for the grown depth). Returns the growth and
    the positions of the new blocks."""
    # Interleaved rather than appended: every small block keeps its relative depth (block j
    # sits at j/L of the stack in both models) and the new capacity is spread over all
    # depths, as interpolation spreads copies, instead of piling up above the last small
    # block where it would only ever see the finished representation.
    slots = interleaved_slots(small.config.n_layer, factor)
    growth = copy_blocks(small, len(slots), slots, seed)
    return growth, [i for i, j in enumerate(slots) if j is None]


@register("zero", "depth", GPT, label="G_zero", preserves_function=True)
def depth_zero(small: GPT, *, factor: int, seed: int | None = None) -> Growth:
    """G_zero in depth: the small blocks kept, each followed by factor - 1 new blocks whose
    attention o_proj and MLP down_proj are zero, so each new block adds exactly zero to
    the residual stream and the grown model computes the small model's function. The new
    blocks' other weights keep the model's own initialisation, so gradients reach the
    zero projections and training moves them off zero."""
    growth, new_blocks = with_new_blocks(small, factor, seed)
    with torch.no_grad():
        for i in new_blocks:
            block = growth.model.blocks[i]
            block.attn.o_proj.weight.zero_()
            block.mlp.down_proj.weight.zero_()
    return growth


@register("random", "depth", GPT, label="G_random", preserves_function=False)
def depth_random(small: GPT, *, factor: int, seed: int | None = None) -> Growth:
    """G_random in depth: the small blocks kept where they sit (interleaved as in `zero`),
    each followed by factor - 1 new blocks freshly initialised as the grown GPT would
    initialise them; the new blocks change the function."""
    return with_new_blocks(small, factor, seed)[0]
