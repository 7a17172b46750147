"""Train only some blocks: LLaMA-Pro trains its new blocks and keeps the old model frozen.

Freezing is `requires_grad=False`: an optimizer built over the parameters that require
gradients never updates the rest, and `GPT.flops_per_token` counts what the frozen part
still costs (its forward pass, and the backward pass through it above the lowest
trainable parameter).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..gpt import GPT


def train_only(model: GPT, blocks: Iterable[int]) -> list[str]:
    """Freeze every parameter of `model` except those of the listed blocks (e.g.
    `growth.info["new_blocks"]` from `llama_pro`); embeddings, final norm and head are
    frozen too. Returns the names of the parameters left trainable. Undo with
    `model.requires_grad_(True)`."""
    chosen = sorted(set(blocks))
    n = len(model.blocks)
    bad = [i for i in chosen if not 0 <= i < n]
    if not chosen or bad:
        raise ValueError(f"blocks must name at least one block in [0, {n}), got {chosen}: e.g. "
                         f"blocks=growth.info['new_blocks'] after llama_pro.")
    model.requires_grad_(False)
    for i in chosen:
        model.blocks[i].requires_grad_(True)
    return [name for name, p in model.named_parameters() if p.requires_grad]
