"""Run records: what every plot, speedup number, command and notebook test reads.

A record is plain data (lists of dicts of numbers and strings), so it serialises to JSON
and back without loss. Nothing in growkit parses printed text.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any


@dataclass
class Record:
    name: str
    # Evaluations in order: step, phase, samples, tokens, flops (cumulative, counting every
    # phase before), train_loss, val_loss, val_acc (classifiers only), lr, wall_s.
    history: list[dict[str, Any]] = field(default_factory=list)
    # Growth events: step, tokens, flops, op, dim, factor, options, claims_preservation,
    # preservation (measured), params_before, params_after.
    events: list[dict[str, Any]] = field(default_factory=list)
    # Per-phase facts: model config, train config, n_params, flops_per_token, device, seed.
    phases: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    # ---- derived views -------------------------------------------------------------
    def series(self, key: str) -> list[float]:
        return [h[key] for h in self.history]

    @property
    def final(self) -> dict[str, Any]:
        if not self.history:
            raise ValueError(f"record {self.name!r} has no evaluations yet.")
        return self.history[-1]

    @property
    def final_val_loss(self) -> float:
        return float(self.final["val_loss"])

    @property
    def total_flops(self) -> float:
        return float(self.final["flops"])

    @property
    def total_tokens(self) -> float:
        return float(self.final["tokens"])

    @property
    def n_params(self) -> int:
        """Parameters of the final model (after any growth)."""
        return int(self.phases[-1]["n_params"])

    @property
    def tokens_per_param(self) -> float:
        """Every token the run saw (small model's included) per final-model parameter."""
        return self.total_tokens / self.n_params

    # ---- serialisation -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, allow_nan=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Record:
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> Record:
        return cls.from_dict(json.loads(text))

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically (temp file + rename): a kill mid-write leaves the old file."""
        return atomic_write_text(Path(path), self.to_json())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Record:
        """Read a record; a file that is not one (truncated, foreign) raises RecordError
        naming it and what to do."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as e:
            raise RecordError(path, f"it is not text ({e})") from None
        except json.JSONDecodeError as e:
            raise RecordError(path, f"it is not complete JSON ({e})") from None
        fields = {"name", "history", "events", "phases", "meta"}
        if not isinstance(data, dict) or "name" not in data or not set(data) <= fields:
            found = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise RecordError(path, f"it is JSON but not a run record (found {found}, expected "
                                    f"{sorted(fields)})")
        problem = history_problem(data.get("history", []))
        if problem is not None:
            raise RecordError(path, f"{problem} (was it edited by hand?)")
        return cls.from_dict(data)


# What a record's evaluations hold: whole numbers, numbers, and numbers that may be missing
# (no training loss before the first step; accuracy for classifiers only). A float may be
# NaN (JSON's NaN, as to_json writes it): a diverged run's last loss is one.
WHOLE = ("step", "phase", "samples", "tokens")
NUMBERS = ("flops", "val_loss", "lr", "wall_s")
OPTIONAL = ("train_loss", "val_acc")


def history_problem(history: Any) -> str | None:
    """What in a record's history is not what growkit writes (None: nothing): a summary
    would otherwise fail deep inside its arithmetic, far from the file to blame."""
    if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
        return f"its history is not a list of evaluations (found {type(history).__name__})"
    for i, h in enumerate(history):
        for key, value in h.items():
            ok = (isinstance(value, int) if key in WHOLE else
                  isinstance(value, (int, float)) if key in NUMBERS else
                  value is None or isinstance(value, (int, float)) if key in OPTIONAL else True)
            if not ok or isinstance(value, bool):
                kind = "a whole number" if key in WHOLE else "a number"
                return f"history[{i}][{key!r}] is {value!r} ({type(value).__name__}), not {kind}"
    return None


class RecordError(ValueError):
    """A file that should be a run record and is not: its path and what to do."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        super().__init__(f"{path}: cannot read this run record: {problem}. Delete it and re-run "
                         "to train that run again (its other files beside it are kept).")


# ---- files: written atomically, JSON strict ----------------------------------------------

@contextlib.contextmanager
def atomic_open(path: str | os.PathLike) -> Iterator[IO[bytes]]:
    """A binary file that becomes `path` when the block ends without an error: a kill
    mid-write leaves the old file. The temp file beside it has a name of its own (pid and
    random suffix), so two writers of one path never write into each other's temp file."""
    path = Path(path)
    folder_for(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())  # on the disk before the rename: a power cut leaves old or new
        os.replace(tmp, path)
        sync_folder(path.parent)
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise OSError(e.errno, f"{path}: the disk is full ({e.strerror}): free disk space and "
                                   "re-run (the file's previous version, if any, is untouched)") from e
        raise
    finally:
        tmp.unlink(missing_ok=True)  # only still there when the write failed


def folder_for(path: Path) -> None:
    """Create `path`'s folder, or say in one sentence why it cannot be (Python's own error
    for a parent that is a file names neither the file nor a fix)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in [path.parent, *path.parent.parents] if p.is_file()), path.parent)
        raise NotADirectoryError(errno.ENOTDIR, f"cannot write {path}: {blocker} is a file, not a "
                                 "folder: choose another path (or move that file away)") from None


def sync_folder(folder: Path) -> None:
    """fsync a folder, so that a rename in it survives a power cut (where the OS allows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # e.g. Windows: folders cannot be opened
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on folders; the rename itself is still atomic
    finally:
        os.close(fd)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_open(path) as f:
        f.write(text.encode("utf-8"))
    return Path(path)


def json_safe(value: Any) -> Any:
    """A copy strict JSON can hold: NaN and infinities become None, tuples lists, keys
    strings, and any other object its name (a data set passed as a growth option) or
    its repr."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return getattr(value, "name", repr(value))


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write `data` as strict JSON (NaN as null), atomically, with a trailing newline:
    e.g. a notebook's key numbers, which the papermill tests read."""
    return atomic_write_text(path, json.dumps(json_safe(data), indent=1, allow_nan=False) + "\n")
