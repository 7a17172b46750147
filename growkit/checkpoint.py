"""Checkpoints: a plain state dict plus the config needed to rebuild the model.

Saved without `torch.compile`'s `_orig_mod.` prefixes and loaded with
`weights_only=True`, so a checkpoint is data, never code.
"""

from __future__ import annotations

import errno
import hashlib
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .cnn import CNN, CNNConfig, TemplateCNN, TemplateCNNConfig
from .distributed import unwrap
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


def plain_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    model = unwrap(model)
    return {k.replace("_orig_mod.", ""): v.detach().cpu() for k, v in model.state_dict().items()}


def model_kind(model: nn.Module) -> str:
    for kind, (cls, _) in MODEL_KINDS.items():
        if isinstance(model, cls):  # type: ignore[arg-type]
            return kind
    raise TypeError(f"cannot checkpoint a {type(model).__name__}: known kinds {sorted(MODEL_KINDS)}.")


class CheckpointError(ValueError):
    """A file that should be a growkit checkpoint and is not: its path and what to do."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = Path(path)
        super().__init__(f"{path}: cannot load this checkpoint: {problem}. Delete it and re-run "
                         "to write it again.")


def save_checkpoint(path: str | os.PathLike, model: nn.Module, **extra: Any) -> Path:
    """Write {kind, config, state_dict, **extra} atomically to path."""
    inner = unwrap(model)
    payload = {"kind": model_kind(inner), "config": inner.config.to_dict(),
               "state_dict": plain_state_dict(model), **extra}
    write_payload(path, payload)
    return Path(path)


def checksum(value: Any, digest: Any = None) -> str:
    """SHA-256 of everything a payload holds, tensors by their bytes: torch.load does not
    notice a flipped byte in a tensor (it loads another number, silently)."""
    digest = hashlib.sha256() if digest is None else digest
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        digest.update(f"{t.dtype}{tuple(t.shape)}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, dict):
        for k in sorted(value, key=str):
            digest.update(repr(k).encode())
            checksum(value[k], digest)
    elif isinstance(value, (list, tuple)):
        for v in value:
            checksum(v, digest)
    else:
        digest.update(repr(value).encode())
    return digest.hexdigest()


def write_payload(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """torch.save, atomically, with a checksum of its contents; a full disk is named as such
    (torch says 'unexpected pos')."""
    payload = {**payload, "checksum": checksum(payload)}
    try:
        with atomic_open(path) as f:
            torch.save(payload, f)
    except RuntimeError as e:
        free = shutil.disk_usage(Path(path).parent).free
        raise OSError(errno.EIO, f"{path}: could not write this checkpoint ({e}); "
                                 f"{free / 1e6:.0f} MB free on its disk: free disk space and re-run "
                                 "(its previous version, if any, is untouched)") from e


def read_payload(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """torch.load with weights_only=True (data, never code); a truncated or foreign file is a
    CheckpointError naming it (a file that would run code stays pickle's UnpicklingError)."""
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:  # weights_only refused it (it would run code), or junk
        raise pickle.UnpicklingError(f"{path}: refused to load ({e}); delete it if it is not "
                                     "yours, or re-run to write it again") from e
    except FileNotFoundError:
        raise
    except (RuntimeError, OSError, EOFError, ValueError, KeyError, IndexError) as e:
        first = str(e).split(". ")[0][:160]
        raise CheckpointError(path, f"it is truncated or not a torch file ({type(e).__name__}: "
                                    f"{first})") from None
    if not isinstance(payload, dict) or "kind" not in payload:
        raise CheckpointError(path, "it is a torch file but not a growkit checkpoint")
    saved = payload.pop("checksum", None)  # (none in files of growkit before it)
    if saved is not None and saved != checksum(payload):
        raise CheckpointError(path, "its contents do not match their checksum (the file was "
                                    "damaged on the disk or in a copy)")
    if payload["kind"] not in MODEL_KINDS:
        raise CheckpointError(path, f"unknown model kind {payload['kind']!r}; known {sorted(MODEL_KINDS)}")
    return payload


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu"
                    ) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model from a checkpoint; returns (model, the whole payload)."""
    payload = read_payload(path, map_location)
    cls, config_cls = MODEL_KINDS[payload["kind"]]
    try:
        model = cls(config_cls(**payload["config"]))
        model.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(path, f"its weights do not fit its model ({e})") from None
    return model, payload
