"""Width growth for the GPT: n_embd, the MLP hidden size and the head count grow by the
factor, the head size stays (rotary positions and attention scaling depend on it).

- `direct` (G_direct, Net2WiderNet / bert2BERT): every unit duplicated, exactly preserving.
- `zero` (G_zero): new units with zero outgoing weights, exactly preserving.
- `random` (G_random): new parameters freshly initialised.
The learned operator (G_learn, LiGO) lives in learn.py.

Units come in four kinds, each an "axis" of the weight matrices: `embd` (the residual
stream's dimensions), `inner` (the attention's query output dimensions, i.e. whole heads
of head_dim rows), `kv` (the key/value output dimensions: whole key/value heads, as many
as the query heads unless the model uses grouped-query attention) and `hidden` (the SwiGLU
hidden units). `vocab` never grows. With grouped-query attention the query and key/value
heads grow by the same factor, so every widened model keeps n_head / n_kv_head.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import torch

from ..gpt import GPT, GPTConfig
from .registry import Growth, copy_into_corner, fresh_model, register

# Parameter name (inside a block for block parameters) -> the unit axis of each dimension.
# nn.Linear weights are (out, in); the embedding table is (vocab, embd).
AXES: dict[str, tuple[str, ...]] = {
    "tok_emb.weight": ("vocab", "embd"),
    "norm.weight": ("embd",),
    "lm_head.weight": ("vocab", "embd"),
    "attn_norm.weight": ("embd",),
    "mlp_norm.weight": ("embd",),
    "attn.q_proj.weight": ("inner", "embd"),
    "attn.k_proj.weight": ("kv", "embd"),
    "attn.v_proj.weight": ("kv", "embd"),
    "attn.o_proj.weight": ("embd", "inner"),
    "mlp.gate_proj.weight": ("hidden", "embd"),
    "mlp.up_proj.weight": ("hidden", "embd"),
    "mlp.down_proj.weight": ("embd", "hidden"),
}
NORMS = ("norm.weight", "attn_norm.weight", "mlp_norm.weight")
# Weights that write into the residual stream (their rows are new stream dimensions).
RESIDUAL_OUT = ("attn.o_proj.weight", "mlp.down_proj.weight")


def kind_of(name: str) -> str:
    """'blocks.3.attn.q_proj.weight' -> 'attn.q_proj.weight'; top-level names unchanged."""
    return name.split(".", 2)[2] if name.startswith("blocks.") else name


def is_linear(kind: str) -> bool:
    # Every weight is a linear layer's except the embedding table and the norm gains.
    return kind != "tok_emb.weight" and kind not in NORMS


def axis_sizes(cfg: GPTConfig) -> dict[str, int]:
    assert cfg.mlp_hidden is not None
    return {"vocab": cfg.vocab_size, "embd": cfg.n_embd, "inner": cfg.n_head * cfg.head_dim,
            "kv": cfg.kv_heads * cfg.head_dim, "hidden": cfg.mlp_hidden}


def widened_config(cfg: GPTConfig, factor: float) -> GPTConfig:
    """The config `factor` times wider: n_head * factor heads of the same head size (and
    n_kv_head * factor key/value heads, keeping the grouping), and mlp_hidden * factor
    hidden units; all must come out whole."""
    try:
        return _widened(cfg, factor)
    except ValueError as e:
        raise ValueError(f"{e}: e.g. factor={working_factor(cfg, factor)} (whole heads, "
                         "key/value heads and hidden units)") from None


def working_factor(cfg: GPTConfig, factor: float) -> str:
    """The smallest width factor above `factor` that `cfg` can grow by, as Python reads it
    back exactly (5/3, not 1.66667, which gives 4.99999 heads)."""
    for k in range(max(cfg.n_head + 1, math.ceil(cfg.n_head * factor - 1e-9)), 64 * cfg.n_head):
        f = Fraction(k, cfg.n_head)
        try:
            _widened(cfg, float(f))
        except ValueError:
            continue
        return str(f) if f.denominator > 1 and 10 ** 6 % f.denominator else f"{float(f):g}"
    return "2"


def _widened(cfg: GPTConfig, factor: float) -> GPTConfig:
    heads = cfg.n_head * factor
    if abs(heads - round(heads)) > 1e-9:
        raise ValueError(
            f"width factor {factor:g} gives n_head = {cfg.n_head} * {factor:g} = {heads:g}: width "
            f"growth keeps the head size ({cfg.head_dim}) and adds whole heads, so "
            f"n_head * factor must be whole")
    n_kv_head = _grown_kv(cfg, factor)
    assert cfg.mlp_hidden is not None
    hidden = cfg.mlp_hidden * factor
    if abs(hidden - round(hidden)) > 1e-9:
        raise ValueError(
            f"width factor {factor:g} gives mlp_hidden = {cfg.mlp_hidden} * {factor:g} = "
            f"{hidden:g}, not a whole number of hidden units")
    n_head = round(heads)
    # mlp_hidden is set explicitly: recomputing 8/3 * n_embd could round differently.
    return dataclasses.replace(cfg, n_head=n_head, n_embd=_grown_embd(cfg, n_head, factor),
                               mlp_hidden=round(hidden), n_kv_head=n_kv_head)


def _grown_kv(cfg: GPTConfig, factor: float) -> int | None:
    """n_kv_head * factor (None stays None: as many key/value heads as query heads)."""
    if cfg.n_kv_head is None:
        return None
    kv = cfg.n_kv_head * factor
    if abs(kv - round(kv)) > 1e-9 or round(kv) < 1:
        raise ValueError(
            f"width factor {factor:g} gives n_kv_head = {cfg.n_kv_head} * {factor:g} = {kv:g}: "
            f"width growth keeps the grouping of {cfg.n_head // cfg.n_kv_head} query heads per "
            f"key/value head and adds whole key/value heads, so n_kv_head * factor must be whole")
    return round(kv)


def _grown_embd(cfg: GPTConfig, n_head: int, factor: float) -> int:
    """The widened n_embd: n_head * head_dim, or n_embd * factor where head_size is set
    apart from n_embd / n_head (it must come out whole)."""
    if cfg.head_size is None:
        return n_head * cfg.head_dim
    embd = cfg.n_embd * factor
    if abs(embd - round(embd)) > 1e-9:
        raise ValueError(f"width factor {factor:g} gives n_embd = {cfg.n_embd} * {factor:g} = "
                         f"{embd:g}, not a whole width")
    return round(embd)


def narrowed_config(cfg: GPTConfig, factor: float) -> GPTConfig:
    """The config that `factor`-fold width growth turns into `cfg` (the inverse of
    `widened_config`): n_head / factor heads of the same head size, and mlp_hidden /
    factor hidden units; both must come out whole."""
    if factor < 1:
        raise ValueError(f"width factor must be >= 1, got {factor:g}: growth only widens.")
    assert cfg.mlp_hidden is not None
    heads, hidden = cfg.n_head / factor, cfg.mlp_hidden / factor
    kv = cfg.kv_heads / factor
    embd = cfg.n_embd / factor if cfg.head_size is not None else heads * cfg.head_dim
    if heads != int(heads) or hidden != int(hidden) or kv != int(kv) or embd != int(embd):
        whole = [g for g in range(2, cfg.n_head + 1)
                 if cfg.n_head % g == 0 and cfg.mlp_hidden % g == 0 and cfg.kv_heads % g == 0
                 and (cfg.head_size is None or cfg.n_embd % g == 0)]
        fix = (f"use factor={whole[0]}" + (f" (or one of {whole[1:]})" if whole[1:] else "")
               if whole else "no whole factor > 1 divides both: change the target's shape")
        kv_part = (f", {cfg.kv_heads} key/value heads" if cfg.n_kv_head is not None else "")
        kv_calc = (f", {cfg.kv_heads} / {factor:g} = {kv:g}" if cfg.n_kv_head is not None else "")
        raise ValueError(
            f"width factor {factor:g} must divide the target's {cfg.n_head} heads{kv_part} and "
            f"{cfg.mlp_hidden} MLP hidden units (width growth keeps the head size): "
            f"{cfg.n_head} / {factor:g} = {heads:g}{kv_calc}, {cfg.mlp_hidden} / {factor:g} = "
            f"{hidden:g}; {fix}.")
    return dataclasses.replace(cfg, n_head=int(heads), n_embd=int(embd), mlp_hidden=int(hidden),
                               n_kv_head=None if cfg.n_kv_head is None else int(kv))


def unchanged_sources(small: GPT, big: GPT) -> dict[str, str]:
    """Parameters copied unchanged with the same shape (only possible at factor 1, since
    width growth reshapes every weight)."""
    small_state = small.state_dict()
    return {name: name for name, t in big.state_dict().items()
            if t.shape == small_state[name].shape and torch.equal(t, small_state[name])}


@register("direct", "width", GPT, label="G_direct", preserves_function=True)
def width_direct(small: GPT, *, factor: int) -> Growth:
    """G_direct in width (Net2WiderNet / bert2BERT function-preserving duplication): every
    unit is repeated `factor` times (the whole block of units tiled, so whole heads repeat
    with their q/k/v rows; with grouped-query attention the key/value heads are tiled the
    same way, so query head c * n_head + i of copy c reads copy c of its key/value head
    i // group) and every weight reading from a repeated unit is divided by
    `factor`, so each copy contributes 1/factor of the original and sums add up exactly.

    The residual stream becomes the small stream tiled `factor` times: RMSNorm's mean
    square over the tiled vector is unchanged, so the norms stay exact. Duplicated heads
    compute identical attention; duplicated SwiGLU units identical activations.
    """
    g = factor
    cfg = widened_config(small.config, g)
    # With tied weights the head and the embedding are one matrix, which cannot be both
    # tiled (embedding) and tiled / g (head). Then the stream carries tile(x) / g instead:
    # embedding and residual outputs get an extra 1/g, and since RMSNorm is scale-free
    # up to eps, eps shrinks by 1/g^2 so normalised values are unchanged.
    scale = 1.0 / g if cfg.tie_weights else 1.0
    cfg = dataclasses.replace(cfg, norm_eps=small.config.norm_eps * scale**2)
    big = fresh_model(GPT, cfg, small)
    state = {}
    for name, w in small.state_dict().items():
        kind = kind_of(name)
        reps = [1 if axis == "vocab" else g for axis in AXES[kind]]
        new = w.repeat(*reps)
        if is_linear(kind):
            new = new / g  # its input axis (embd, inner or hidden) was repeated g times
        if kind == "tok_emb.weight" or kind in RESIDUAL_OUT:
            new = new * scale
        state[name] = new
    big.load_state_dict(state)
    return Growth(big, unchanged_sources(small, big))


def _embed_small(small: GPT, cfg: GPTConfig, seed: int | None) -> GPT:
    """A freshly initialised GPT of config `cfg` with each small weight copied into the
    top-left corner of its grown weight (kept units first, new units after, whole heads)."""
    big = fresh_model(GPT, cfg, small, seed)
    copy_into_corner(small, big)
    return big


@register("zero", "width", GPT, label="G_zero", preserves_function=True, integer_factor=False)
def width_zero(small: GPT, *, factor: float, seed: int | None = None) -> Growth:
    """G_zero in width: new embedding dimensions start at zero everywhere in the residual
    stream (zero embedding columns, zero rows of o_proj and down_proj) and new heads and
    hidden units have zero outgoing weights (zero o_proj / down_proj columns). Their
    incoming weights, and the weights reading the (zero) new stream dimensions, keep the
    model's own initialisation, so they break symmetry and gradients flow into the zeros.
    Exactly function-preserving, including under RMSNorm (see below)."""
    cfg = widened_config(small.config, factor)
    D = small.config.n_embd
    # RMSNorm averages x^2 over all D' dimensions; with zeros in the D' - D new ones the
    # mean square shrinks by D/D', and x / sqrt(ms + eps) would grow by sqrt(D'/D). With
    # eps' = eps * D/D' the denominator is exactly sqrt(D/D') * sqrt(ms + eps), so scaling
    # the kept gains by sqrt(D/D') gives back the small model's normalised values exactly.
    # (Keeping the gains and eps unchanged, as the official code does, is not preserving.)
    shrink = D / cfg.n_embd
    big = _embed_small(small, dataclasses.replace(cfg, norm_eps=cfg.norm_eps * shrink), seed)
    small_state = small.state_dict()
    with torch.no_grad():
        for name, p in big.named_parameters():
            kind = kind_of(name)
            if kind == "tok_emb.weight":
                p[:, D:] = 0
            elif kind in RESIDUAL_OUT:
                p[D:, :] = 0  # nothing is written into the new stream dimensions
                p[:, small_state[name].shape[1]:] = 0  # new heads / units: zero outgoing weights
            elif kind in NORMS:
                p[:D] *= math.sqrt(shrink)
    return Growth(big, unchanged_sources(small, big))


@register("random", "width", GPT, label="G_random", preserves_function=False,
          integer_factor=False)
def width_random(small: GPT, *, factor: float, seed: int | None = None) -> Growth:
    """G_random in width: the small weights kept in place (kept units first), every new
    entry freshly initialised with the model's own initialisation, norms' eps unchanged;
    the new units change the function."""
    big = _embed_small(small, widened_config(small.config, factor), seed)
    return Growth(big, unchanged_sources(small, big))
