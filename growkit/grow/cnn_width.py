"""Width growth for the plain CNN: the baselines MixtureGrowth is compared with.

- `random`: the small weights kept (old channels first), every new entry freshly
  initialised, new BatchNorm channels at their defaults; changes the function.
- `zero`: as random, but every weight reading a new channel is zero (zero fan-out), so the
  new channels cannot reach the logits: exactly function-preserving, in train and eval
  mode. Their incoming weights are random, so gradients flow into the zeros.
- `net2wider` (Net2WiderNet, Chen et al. 2016): each new channel copies an old one
  (chosen at random), incoming weights and BatchNorm (parameters and running statistics)
  included, and every weight reading a copied channel is divided by its number of copies:
  exactly function-preserving. `noise` > 0 perturbs the copies' incoming weights (Net2Net's
  symmetry breaking), at the cost of exactness.

Channels come in *spaces*: sets of channels that must grow together. A residual stream is
one space (every conv writing into it and every norm reading it share one channel map),
each block's inner channels are another. The official MixtureGrowth baseline widens layer
pairs one by one with independent random maps, which is not function-preserving across a
residual sum; here one map per space keeps it exact.
"""

from __future__ import annotations

import dataclasses

import torch

from ..cnn import CNN, CNNConfig
from .registry import Growth, copy_into_corner, fresh_model, register, seeded

FIXED = ("image", "classes")  # spaces that never grow


def channel_spaces(cfg: CNNConfig) -> tuple[dict[str, tuple[str | None, ...]], dict[str, int]]:
    """(module name -> the channel space of each dimension of its weight, None for kernel
    dimensions; space -> its number of channels), walking the net as it is built."""
    c = cfg.channels
    axes: dict[str, tuple[str | None, ...]] = {"stem": ("stem", "image", None, None)}
    sizes = {"image": cfg.in_channels, "classes": cfg.num_classes, "stem": c[0]}
    stream = "stem"
    for s, b, cin, cout, stride in cfg.blocks():
        p, inner = f"stages.{s}.{b}", f"stages.{s}.{b}.inner"
        out = f"stages.{s}" if cin != cout or stride != 1 else stream
        sizes[inner] = sizes[out] = cout
        axes[f"{p}.bn1"] = (stream,)
        axes[f"{p}.conv1"] = (inner, stream, None, None)
        axes[f"{p}.bn2"] = (inner,)
        axes[f"{p}.conv2"] = (out, inner, None, None)
        if out != stream:
            axes[f"{p}.shortcut"] = (out, stream, None, None)
        stream = out
    axes["norm"] = (stream,)
    axes["head"] = ("classes", stream)
    return axes, sizes


def axes_of(cfg: CNNConfig) -> dict[str, tuple[str | None, ...]]:
    """Every state-dict entry -> its channel spaces."""
    out = {}
    for module, spaces in channel_spaces(cfg)[0].items():
        if len(spaces) == 1:  # a BatchNorm
            for key in ("weight", "bias", "running_mean", "running_var"):
                out[f"{module}.{key}"] = spaces
            out[f"{module}.num_batches_tracked"] = ()
        else:
            out[f"{module}.weight"] = spaces
    return out


def space_sizes(cfg: CNNConfig) -> dict[str, int]:
    return channel_spaces(cfg)[1]


def widened_config(cfg: CNNConfig, factor: float) -> CNNConfig:
    """The same net with every width times `factor`; the widths must come out whole."""
    new = dataclasses.replace(cfg, stem=round(cfg.stem * factor), widen=cfg.widen * factor)
    want = [c * factor for c in cfg.channels]
    if any(abs(w - n) > 1e-9 for w, n in zip(want, new.channels)):
        raise ValueError(
            f"width factor {factor} turns widths {cfg.channels} into {want}: every width must "
            "stay a whole number of channels; use factor=2 or a factor with that property."
        )
    return new


def _embed(small: CNN, factor: float, seed: int | None) -> tuple[CNN, dict[str, int]]:
    """A fresh wider CNN with each small tensor copied into its leading corner."""
    big = fresh_model(CNN, widened_config(small.config, factor), small, seed)
    copy_into_corner(small, big)
    return big, space_sizes(small.config)


@register("random", "width", CNN, label="random init", preserves_function=False,
          integer_factor=False)
def cnn_random(small: CNN, *, factor: float, seed: int | None = None) -> Growth:
    """Width growth by random init: the small CNN's weights kept in the leading channels,
    new weights drawn as the CNN initialises them, new BatchNorm channels at defaults."""
    big, _ = _embed(small, factor, seed)
    return Growth(big)


@register("zero", "width", CNN, label="zero fan-out", preserves_function=True,
          integer_factor=False)
def cnn_zero(small: CNN, *, factor: float, seed: int | None = None) -> Growth:
    """Width growth with zero fan-out: as `random`, but every weight reading a new channel
    is zero, so the grown CNN computes exactly the small one's logits."""
    big, old = _embed(small, factor, seed)
    axes = axes_of(big.config)
    with torch.no_grad():
        for name, p in big.named_parameters():
            spaces = axes[name]
            if len(spaces) >= 2 and spaces[1] not in FIXED:
                p[:, old[spaces[1]]:] = 0
    return Growth(big)


@register("net2wider", "width", CNN, label="Net2Wider", preserves_function=True,
          integer_factor=False)
def cnn_net2wider(small: CNN, *, factor: float, seed: int | None = None,
                  noise: float = 0.0) -> Growth:
    """Net2WiderNet: every new channel copies a randomly chosen old one (incoming weights,
    BatchNorm parameters and running statistics), and weights reading a copied channel are
    divided by its number of copies. Exactly function-preserving with noise=0; `noise`
    adds noise * std(W) Gaussian noise to the copies' incoming weights (Net2Net's
    symmetry breaking, which the exact copies otherwise never lose)."""
    cfg = widened_config(small.config, factor)
    old, new = space_sizes(small.config), space_sizes(cfg)
    axes = axes_of(cfg)
    state = {}
    with seeded(seed):  # the channel maps and the noise
        # One channel map per space: new channel j copies old channel maps[space][j].
        maps = {s: torch.cat([torch.arange(old[s]), torch.randint(old[s], (new[s] - old[s],))])
                for s in new if s not in FIXED}
        counts = {s: torch.bincount(m, minlength=old[s]).float() for s, m in maps.items()}
        for name, t in small.state_dict().items():
            spaces = axes[name]
            for dim, space in enumerate(spaces):
                if space is None or space in FIXED:
                    continue
                t = t.index_select(dim, maps[space].to(t.device))
                if dim == 1:  # an input axis: the copies share the original's outgoing weight
                    shape = [1] * t.dim()
                    shape[1] = -1
                    t = t / counts[space].to(t)[maps[space]].view(shape)
            if noise and len(spaces) >= 2 and spaces[0] not in FIXED:
                copies = torch.arange(t.shape[0]) >= old[spaces[0]]
                t = t.clone()
                t[copies] += noise * t.std() * torch.randn(t[copies].shape).to(t)
            state[name] = t
    big = fresh_model(CNN, cfg, small)  # every entry is overwritten by the state below
    big.load_state_dict(state)
    return Growth(big, info={"noise": noise})
