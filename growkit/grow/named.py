"""Two named methods for growing released checkpoints, in growkit's terms.

- LLaMA-Pro block expansion (Wu et al., 2024, "LLaMA Pro: Progressive LLaMA with Block
  Expansion"): after every `every` blocks one new block, a copy of the block before it with
  its attention o_proj and MLP down_proj zeroed, so it adds exactly zero to the residual
  stream. That is G_zero in depth (depth.py's `zero`) with two differences: the new blocks
  sit after every k-th block instead of after each one, and their other weights are copies
  of their neighbour, not fresh initialisations. Exactly function-preserving. The paper
  then trains only the new blocks: `Growth.info["new_blocks"]` names them and
  `growkit.grow.freeze.train_only` freezes everything else.
- SOLAR depth up-scaling (Kim et al., 2023, "SOLAR 10.7B: Scaling Large Language Models
  with Simple yet Effective Depth Up-Scaling"): two copies of the stack, the last `drop`
  blocks of the first and the first `drop` blocks of the second removed, then joined:
  blocks [0 .. L-drop-1] + [drop .. L-1], 2 * (L - drop) in all (32 -> 48 with drop=8).
  In growkit's terms it is partial stacking (depth.py's `order="middle"`): blocks drop ..
  L-drop-1, a contiguous middle part of L - 2 * drop blocks, appear twice and the first and
  last `drop` blocks once ([0..7] + [8..23] * 2 + [24..31] for L=32, drop=8); drop=0 is
  G_stack with factor 2. Not function-preserving (the seam joins block
  L-drop-1 to block drop), which is why the paper continues pretraining.

Each is a plain function with its own knob (`every`, `drop`) and an Operator taking a
growth factor like the course's operators (LLAMA_PRO, SOLAR), usable with `grow` and
`grow_with_sources`. They are not in the course's operator table (`resolve` by name).
"""

from __future__ import annotations

import torch

from ..gpt import GPT
from .depth import copy_blocks, from_layers
from .registry import Growth, Operator

INITS = ("copy", "fresh")


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def llama_pro(small: GPT, *, every: int, init: str = "copy", seed: int | None = None) -> Growth:
    """LLaMA-Pro block expansion: one zero-output block after every `every` small blocks
    (`every` must divide n_layer; L blocks become L + L / every). `init="copy"` (the paper)
    copies the preceding block's weights into the new one, `"fresh"` gives it the grown
    GPT's own initialisation (as G_zero does, `seed` as in `fresh_model`); either way its
    o_proj and down_proj are zero, so the grown model computes the small model's function
    exactly. `Growth.info["new_blocks"]` lists the new blocks' indices; `sources` names
    every copied parameter (not the zeroed projections)."""
    L = small.config.n_layer
    if isinstance(every, bool) or not isinstance(every, int) or every < 1 or L % every:
        raise ValueError(f"every={every!r} must be a whole number dividing n_layer={L} (one new "
                         f"block after each group of `every` blocks): use one of every={_divisors(L)}.")
    if init not in INITS:
        raise ValueError(f"init={init!r}: use 'copy' (the paper: a copy of the block before it) "
                         f"or 'fresh' (the model's own initialisation).")
    slots: list[int | None] = []
    new_blocks: list[int] = []
    for j in range(L):
        slots.append(j)
        if (j + 1) % every == 0:
            new_blocks.append(len(slots))
            slots.append(j if init == "copy" else None)
    growth = copy_blocks(small, len(slots), slots, seed)
    with torch.no_grad():
        for i in new_blocks:
            block = growth.model.blocks[i]
            block.attn.o_proj.weight.zero_()
            block.mlp.down_proj.weight.zero_()
            for name in (f"blocks.{i}.attn.o_proj.weight", f"blocks.{i}.mlp.down_proj.weight"):
                growth.sources.pop(name, None)  # zeroed, not copied: no moments to carry
    growth.info["new_blocks"] = new_blocks
    return growth


def solar_layers(n_layer: int, drop: int) -> list[int]:
    """SOLAR's block order: [0 .. L-drop-1] + [drop .. L-1]."""
    if isinstance(drop, bool) or not isinstance(drop, int) or not 0 <= 2 * drop < n_layer:
        raise ValueError(f"drop={drop!r} must be a whole number with 0 <= 2 * drop < n_layer={n_layer} "
                         f"(the blocks removed from each copy at the seam, so that the model grows; "
                         f"the paper drops 8 of 32): e.g. drop={n_layer // 4}.")
    return list(range(n_layer - drop)) + list(range(drop, n_layer))


def solar(small: GPT, *, drop: int) -> Growth:
    """SOLAR depth up-scaling: the stack twice, the last `drop` blocks of the first copy
    and the first `drop` of the second left out (L blocks become 2 * (L - drop)).
    Everything else is copied; not function-preserving (see the module docstring).
    `Growth.info["layers"]` is the block order."""
    layers = solar_layers(small.config.n_layer, drop)
    growth = from_layers(small, layers)
    growth.info["layers"] = layers
    return growth


def _llama_pro_by_factor(small: GPT, *, factor: float, init: str = "copy",
                         seed: int | None = None) -> Growth:
    L = small.config.n_layer
    added = L * (factor - 1)
    if abs(added - round(added)) > 1e-9 or round(added) < 1 or L % round(added):
        options = ", ".join(f"{1 + d / L:g}" for d in _divisors(L))
        raise ValueError(f"LLaMA-Pro adds n_layer * (factor - 1) blocks, one after every group, so "
                         f"that number must divide n_layer={L}; factor={factor:g} adds {added:g}: "
                         f"use one of factor={options} (or llama_pro(model, every=...)).")
    return llama_pro(small, every=L // round(added), init=init, seed=seed)


def _solar_by_factor(small: GPT, *, factor: float) -> Growth:
    L = small.config.n_layer
    drop = L * (2 - factor) / 2
    if not 1 < factor <= 2 or abs(drop - round(drop)) > 1e-9:
        options = ", ".join(f"{2 * (L - d) / L:g}" for d in range(L) if 2 * (L - d) > L)
        raise ValueError(f"SOLAR keeps 2 * (n_layer - drop) blocks, so factor={factor:g} must be in "
                         f"(1, 2] with n_layer * (2 - factor) / 2 whole (n_layer={L}): use one of "
                         f"factor={options} (or solar(model, drop=...)).")
    return solar(small, drop=round(drop))


LLAMA_PRO = Operator("llama_pro", "depth", GPT, _llama_pro_by_factor, preserves_function=True,
                     label="LLaMA-Pro", integer_factor=False, doc=(llama_pro.__doc__ or "").strip())
SOLAR = Operator("solar", "depth", GPT, _solar_by_factor, preserves_function=False,
                 label="SOLAR", integer_factor=False, doc=(solar.__doc__ or "").strip())
