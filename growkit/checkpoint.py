"""Checkpoints: a plain state dict plus the config needed to rebuild the model.

Saved without `torch.compile`'s `_orig_mod.` prefixes and loaded with
`weights_only=True`, so a checkpoint is data, never code.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .cnn import CNN, CNNConfig, TemplateCNN, TemplateCNNConfig
from .gpt import GPT, GPTConfig
from .record import atomic_open

# kind -> (class, config class); other model families register themselves here. A grown
# TemplateCNN's config says grown=True, so it is rebuilt grown and its state dict (the
# concatenated BatchNorm statistics included) loads as saved.
MODEL_KINDS: dict[str, tuple[Callable[..., nn.Module], type]] = {
    "gpt": (GPT, GPTConfig),
    "cnn": (CNN, CNNConfig),
    "template-cnn": (TemplateCNN, TemplateCNNConfig),
}


def unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside torch.compile and DDP wrappers."""
    model = getattr(model, "_orig_mod", model)
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


def plain_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    model = unwrap(model)
    return {k.replace("_orig_mod.", ""): v.detach().cpu() for k, v in model.state_dict().items()}


def model_kind(model: nn.Module) -> str:
    for kind, (cls, _) in MODEL_KINDS.items():
        if isinstance(model, cls):  # type: ignore[arg-type]
            return kind
    raise TypeError(f"cannot checkpoint a {type(model).__name__}: known kinds {sorted(MODEL_KINDS)}.")


def save_checkpoint(path: str | os.PathLike, model: nn.Module, **extra: Any) -> Path:
    """Write {kind, config, state_dict, **extra} atomically to path."""
    inner = unwrap(model)
    payload = {"kind": model_kind(inner), "config": inner.config.to_dict(),
               "state_dict": plain_state_dict(model), **extra}
    with atomic_open(path) as f:
        torch.save(payload, f)
    return Path(path)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu"
                    ) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model from a checkpoint; returns (model, the whole payload)."""
    payload = torch.load(path, map_location=map_location, weights_only=True)
    cls, config_cls = MODEL_KINDS[payload["kind"]]
    model = cls(config_cls(**payload["config"]))
    model.load_state_dict(payload["state_dict"])
    return model, payload
