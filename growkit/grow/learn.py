"""G_learn (LiGO-style): the grown model's weights are a learned linear map of the small
model's weights. The map starts at a sensible growth (stacking in depth, [I; noise]
expansions in width), is trained for a short phase on training data with the small
weights frozen, and is then materialised into a plain GPT that trains on like any other.

Only the map's coefficients are trained: each step computes the grown weights from the
(frozen) small ones and evaluates the grown GPT on them with torch.func.functional_call,
so gradients flow through the big model into the map.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from ..gpt import GPT
from .registry import Growth, device_of, fresh_model, register, seeded
from .width import AXES, axis_sizes, kind_of, widened_config

Mapped = Callable[[], dict[str, torch.Tensor]]
EVAL_BATCHES = 2  # fixed batches on which the loss at the start and end of the phase is measured
STEPS = 100  # the map's training steps unless steps= says otherwise
BATCH_SIZE = 32  # its batch size unless batch_size= says otherwise (the Trainer passes its own)


def map_tokens(steps: int, batch_size: int, seq_len: int) -> int:
    """Tokens the map's phase runs through the grown model: `steps` training batches and
    the EVAL_BATCHES evaluation batches at its start and again at its end."""
    return (steps + 2 * EVAL_BATCHES) * batch_size * seq_len


def extra_tokens(options: dict[str, Any], batch_size: int, seq_len: int) -> int:
    """`Operator.extra_tokens` for G_learn: the map's tokens for these grow() options at
    the run's batch size (which the Trainer passes on unless the options set one)."""
    return map_tokens(options.get("steps", STEPS), options.get("batch_size", batch_size), seq_len)


def fit_map(big: GPT, mapped: Mapped, coefficients: list[nn.Parameter], *, op: str, data: Any,
            steps: int, lr: float, batch_size: int, seed: int | None) -> dict[str, Any]:
    """Train the map's coefficients for `steps` AdamW steps, then copy the mapped weights
    into `big`. Returns the phase's record: loss on fixed training batches at the start
    and end, every step's loss, and the tokens and (approximate) FLOPs spent."""
    if data is None or not hasattr(data, "batch"):
        raise ValueError(
            f"{op} trains its growth map on data: pass data=<a growkit TextCorpus>, e.g. "
            f"grow(model, 'learn', dim=..., factor=2, data=load_text('kjv'))."
        )
    if steps < 0 or batch_size < 1 or lr <= 0:
        raise ValueError(f"{op} needs steps >= 0, batch_size >= 1 and lr > 0, got "
                         f"steps={steps}, batch_size={batch_size}, lr={lr}.")
    device, T = device_of(big), big.config.block_size
    # Batches come from a generator of their own (data.batch takes one), not from `seeded`:
    # drawing them from the global RNG would change what an unseeded call consumes from it.
    # With no seed one is drawn from the global RNG, so runs stay reproducible under
    # torch.manual_seed.
    if seed is None:
        seed = int(torch.randint(2**31 - 1, ()))
    gen = torch.Generator().manual_seed(seed)
    eval_set = [data.batch("train", batch_size, T, gen) for _ in range(EVAL_BATCHES)]

    def loss_on(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return functional_call(big, mapped(), (x.to(device), y.to(device)))[1]

    def eval_loss() -> float:
        with torch.no_grad():
            return sum(float(loss_on(x, y)) for x, y in eval_set) / len(eval_set)

    # No weight decay: it would pull the map towards zero, not towards its initial growth.
    optimizer = torch.optim.AdamW(coefficients, lr=lr, weight_decay=0.0)
    loss_start, losses = eval_loss(), []
    for _ in range(steps):
        loss = loss_on(*data.batch("train", batch_size, T, gen))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(coefficients, 1.0)
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        params = mapped()
        for name, p in big.named_parameters():
            p.copy_(params[name])
    tokens = map_tokens(steps, batch_size, T)
    return {"loss_start": loss_start, "loss_end": eval_loss(), "losses": losses,
            "steps": steps, "tokens": tokens,
            # a forward and backward pass through the grown model per token, as training it
            "flops": big.flops_per_token(T) * tokens}


@register("learn", "depth", GPT, label="G_learn", preserves_function=False, needs_data=True,
          extra_tokens=extra_tokens)
def depth_learn(small: GPT, *, factor: int, data: Any = None, steps: int = STEPS,
                lr: float = 3e-3, batch_size: int = BATCH_SIZE, seed: int | None = None) -> Growth:
    """G_learn in depth (LiGO's depth operator): grown block i's weight of each kind
    (q_proj, ..., mlp_norm) is sum_j c[i, j, kind] * small block j's weight of that kind,
    with c initialised as stacking (one-hot at j = i mod L, so at step 0 this is G_stack).
    c is trained for `steps` AdamW steps (`lr`, `batch_size`) on batches of `data` (a
    TextCorpus, required) with the small model frozen; embeddings, final norm and head are
    copied. `Growth.info` holds the loss at the start and end of the phase."""
    L = small.config.n_layer
    big = fresh_model(GPT, dataclasses.replace(small.config, n_layer=L * factor), small, seed)
    small_state = small.state_dict()  # detached: the small weights stay frozen
    kinds = [kind_of(n) for n in small_state if n.startswith("blocks.0.")]
    stacked = {k: torch.stack([small_state[f"blocks.{j}.{k}"] for j in range(L)]) for k in kinds}
    coef = torch.zeros(L * factor, L, len(kinds), device=device_of(small))
    for i in range(L * factor):
        coef[i, i % L, :] = 1.0
    coef = nn.Parameter(coef)
    # Named parameters, not the state dict: with tied weights the head is the embedding,
    # and functional_call ties it from the one name.
    names = [n for n, _ in big.named_parameters()]

    def mapped() -> dict[str, torch.Tensor]:
        params = {n: small_state[n] for n in names if not n.startswith("blocks.")}
        for k, kind in enumerate(kinds):
            grown = torch.einsum("ij,j...->i...", coef[:, :, k], stacked[kind])
            params.update({f"blocks.{i}.{kind}": grown[i] for i in range(L * factor)})
        return params

    info = fit_map(big, mapped, [coef], op="learn (depth)", data=data, steps=steps, lr=lr,
                   batch_size=batch_size, seed=seed)
    sources = {n: n for n in big.state_dict() if not n.startswith("blocks.")}
    return Growth(big, sources, info)


def expansion(n_new: int, n: int, noise: float, count: int = 1) -> torch.Tensor:
    """`count` matrices (n_new, n) initialised [I; noise]: the kept units first, the new
    ones small random mixtures of the old."""
    m = torch.zeros(count, n_new, n)
    m[:, :n] = torch.eye(n)
    m[:, n:] = noise * torch.randn(count, n_new - n, n)
    return m


@register("learn", "width", GPT, label="G_learn", preserves_function=False, integer_factor=False,
          needs_data=True, extra_tokens=extra_tokens)
def width_learn(small: GPT, *, factor: float, data: Any = None, steps: int = STEPS,
                lr: float = 3e-3, batch_size: int = BATCH_SIZE, noise: float = 0.01,
                seed: int | None = None) -> Growth:
    """G_learn in width (LiGO's width operator): each weight W is expanded as
    A_row W A_col^T by learned expansion matrices, one per unit axis: A_embd (shared by
    every layer, since all of them read and write the one residual stream), and per block
    A_head (whole heads: the q/k/v/o map is A_head kron I_head_dim, so rotary pairs stay
    intact) and A_hidden; with grouped-query attention the key/value heads have their own
    A_kv (k/v rows map as A_kv kron I_head_dim), else they share A_head. Norm gains map as
    A_embd g. Every matrix starts as [I; noise]
    (`noise` the std of the new rows) and is trained like the depth version (`data`
    required, `steps`, `lr`, `batch_size`); `Growth.info` holds the phase's losses."""
    cfg = widened_config(small.config, factor)
    old, new = axis_sizes(small.config), axis_sizes(cfg)
    hd, L, device = cfg.head_dim, cfg.n_layer, device_of(small)
    small_state = small.state_dict()
    with seeded(seed):
        big = GPT(cfg).to(device)
        a_embd = nn.Parameter(expansion(new["embd"], old["embd"], noise)[0].to(device))
        a_head = nn.Parameter(expansion(cfg.n_head, small.config.n_head, noise, L).to(device))
        a_hidden = nn.Parameter(expansion(new["hidden"], old["hidden"], noise, L).to(device))
        # Drawn last, and only for GQA, so a multi-head model's draws are as they always were.
        a_kv = (a_head if cfg.n_kv_head is None else
                nn.Parameter(expansion(cfg.kv_heads, small.config.kv_heads, noise, L).to(device)))
    eye_hd = torch.eye(hd, device=device)
    names = [n for n, _ in big.named_parameters()]

    def mapped() -> dict[str, torch.Tensor]:
        params = {}
        for name in names:
            kind, w = kind_of(name), small_state[name]
            layer = int(name.split(".")[1]) if name.startswith("blocks.") else None
            maps = {"embd": a_embd, "vocab": None,
                    "inner": None if layer is None else torch.kron(a_head[layer], eye_hd),
                    "kv": None if layer is None else torch.kron(a_kv[layer], eye_hd),
                    "hidden": None if layer is None else a_hidden[layer]}
            row, *col = (maps[axis] for axis in AXES[kind])
            if row is not None:
                w = row @ w
            if col and col[0] is not None:
                w = w @ col[0].T
            params[name] = w
        return params

    coefficients = [a_embd, a_head, a_hidden] + ([a_kv] if a_kv is not a_head else [])
    info = fit_map(big, mapped, coefficients, op="learn (width)", data=data,
                   steps=steps, lr=lr, batch_size=batch_size, seed=seed)
    return Growth(big, {}, info)
