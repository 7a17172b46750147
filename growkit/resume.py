"""Exact resume: everything needed to continue a run, named once, saved and restored here.

A Trainer with an `out_dir` keeps `<stem>.resume.pt`: its `TrainState` (the weights, the
optimizer and grad scaler, where it is — phase, step and the ledger —, the batch generator
and torch's generators, the record so far) beside the model's checkpoint fields. A new
Trainer on the same folder and stem whose first phase matches continues from it, and the
caller's program is then replayed: the fit/new_phase/grow calls the saved state already
holds are skipped (`Replay`), each checked against what the record says was done, so a
changed script stops instead of silently continuing the old run.

Nothing here draws a random number or changes one: a run interrupted and resumed gives the
record of an uninterrupted run (wall_s aside) on a CPU at the same thread count.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from . import distributed
from .checkpoint import MODEL_KINDS, CheckpointError, read_payload, save_checkpoint
from .record import Record, json_safe
from .settings import SettingError

if TYPE_CHECKING:  # the Trainer is what this module saves and restores; it imports us
    from .train import Trainer

# Bumped whenever TrainState's fields change: an older file is refused by name, not misread.
RESUME_VERSION = 2


@dataclass(frozen=True)
class Checkpointing:
    """Where and how often a run with an `out_dir` saves its resumable state (none of it
    changes a number).

    `stem`: the files' name (<stem>.json, <stem>.resume.pt, <stem>.phase<k>.pt); default the
    run's name. `every`: steps between resumable saves; None: every `minutes` of training.
    Always also at every phase's end, growth and new phase. `resume`: continue from an
    existing <stem>.resume.pt of the same run. `start_from`: another run's resumable file
    (growkit.runs' shared beginnings) to continue from when this run has none of its own."""

    stem: str | None = None
    every: int | None = None
    minutes: float | None = 3.0
    resume: bool = True
    start_from: Path | None = None

    def __post_init__(self) -> None:
        if self.every is not None and (isinstance(self.every, bool) or not isinstance(self.every, int)
                                       or self.every < 1):
            raise SettingError(f"checkpoint every must be a whole number >= 1 or None, got "
                               f"{self.every!r}: e.g. Checkpointing(every=500).")
        if self.minutes is not None and not (isinstance(self.minutes, (int, float)) and self.minutes > 0):
            raise SettingError(f"checkpoint minutes must be > 0 or None, got {self.minutes!r}: "
                               "e.g. Checkpointing(minutes=3).")


@dataclass
class TrainState:
    """What a Trainer needs, besides the model's weights, to continue exactly."""

    record: dict[str, Any]  # the record so far
    train_config: dict[str, Any]  # the current phase's TrainConfig
    forward_options: dict[str, Any]  # e.g. {"member": 0}: which TemplateCNN member trains
    ledger: dict[str, Any]  # step, phase_step, samples, tokens, flops
    recent_losses: list[float]  # training losses since the last evaluation
    optimizer: dict[str, Any]
    scaler: dict[str, Any]
    batch_gen: torch.Tensor  # the training batches' generator
    torch_rng: torch.Tensor
    cuda_rng: list[torch.Tensor]
    elapsed: float  # seconds of training so far (the record's wall_s continue from it)

    @classmethod
    def capture(cls, t: Trainer) -> TrainState:
        """Read the trainer's state (no RNG draw: saving changes no number)."""
        return cls(record=t.record.to_json(), train_config=asdict(t.config),
                   forward_options=dict(t.forward_options), ledger=asdict(t.ledger),
                   recent_losses=list(t.recent_losses), optimizer=t.optimizer.state_dict(),
                   scaler=t.engine.scaler.state_dict(), batch_gen=t.batch_gen.get_state(),
                   torch_rng=torch.get_rng_state(),
                   cuda_rng=torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                   elapsed=time.perf_counter() - t.started)

    def restore(self, t: Trainer, model: torch.nn.Module) -> None:
        """Put the trainer where it was when this state was captured, training `model` (the
        saved weights already loaded)."""
        # (The trainer's own classes: this module needs no import of the training loop.)
        t._setup(model, type(t.config)(**self.train_config), self.forward_options.get("member"))
        t.record = Record.from_json(self.record)
        t.ledger = type(t.ledger)(**self.ledger)
        t.recent_losses = list(self.recent_losses)
        t.optimizer.load_state_dict(self.optimizer)
        t.engine.scaler.load_state_dict(self.scaler)
        t.batch_gen.set_state(self.batch_gen)
        torch.set_rng_state(self.torch_rng)
        if self.cuda_rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(self.cuda_rng)
        t.started = time.perf_counter() - self.elapsed


def save_state(t: Trainer, path: Path) -> None:
    """Write the trainer's model and TrainState to `path`, atomically."""
    save_checkpoint(path, t.model, resumable=RESUME_VERSION, state=asdict(TrainState.capture(t)))


def identity(record: Record) -> Any:
    """What makes two records the same run: their start (the first phase: model, training
    config, data options; the corpus and seeds). Compiling or not is not part of it: a run
    may resume eager or compiled."""
    first = ({k: v for k, v in record.phases[0].items() if k not in ("compiled", "compile_s")}
             if record.phases else None)
    start = [first, *(record.meta.get(k) for k in ("corpus", "seed", "init_seed"))]
    return json.loads(json.dumps(json_safe(start)))


def resume_from(t: Trainer, path: Path, model: torch.nn.Module) -> bool:
    """Continue `t` from the resumable file at `path` if it is of the same run (same
    identity); returns whether it did. Under torchrun rank 0 reads the file and sends it to
    the others (no file system shared between machines needed)."""
    payload = distributed.on_main(lambda: read_payload(path))
    if payload.get("resumable") != RESUME_VERSION:
        raise CheckpointError(path, "it is not a resumable checkpoint of this growkit version")
    state = TrainState(**{f.name: payload["state"][f.name] for f in fields(TrainState)})
    saved = Record.from_json(state.record)
    if identity(t.record) != identity(saved):
        if distributed.is_main():
            print(f"{t.record.name}: not resuming from {path}: it is of another run (other model, "
                  "data or settings); starting at step 0 (it will be overwritten).", flush=True)
        return False
    name, threads = t.record.name, torch.get_num_threads()
    cls, config_cls = MODEL_KINDS[payload["kind"]]
    inner = distributed.unwrap(model)
    # The caller's own model object where it fits, as if trained in place.
    same = type(inner) is cls and inner.config.to_dict() == payload["config"]
    restored = inner if same else cls(config_cls(**payload["config"]))
    restored.load_state_dict(payload["state_dict"])
    state.restore(t, restored)
    t.record.name = name  # (another run's, when started from a shared beginning)
    began_at = t.record.meta.get("threads")
    t.record.meta["threads"] = threads  # the count it continues at: the record says the truth
    if began_at is not None and began_at != threads:
        t.record.meta["threads_before_resume"] = began_at
    t.replay.path = path
    if distributed.is_main():
        _explain(t, path, began_at, saved.meta.get("world_size", 1))
    return True


def _explain(t: Trainer, path: Path, began_at: int | None, world: int) -> None:
    """One line per thing that makes the resumed numbers differ from an uninterrupted run's."""
    name = t.record.name
    if began_at is not None and began_at != torch.get_num_threads():
        print(f"{name}: note: this run began at {began_at} threads and continues at "
              f"{torch.get_num_threads()}: on a CPU its numbers will differ from an "
              "uninterrupted run's.", flush=True)
    if world != distributed.world_size():
        print(f"{name}: note: this run began on {world} process(es) and continues on "
              f"{distributed.world_size()}: the same global batches, but its numbers will differ "
              "from an uninterrupted run's in the last digits (sums split differently).", flush=True)
    print(f"{name}: resuming from {path} at step {t.ledger.step} (phase {t.phase}, step "
          f"{t.ledger.phase_step} of {t.config.steps}) instead of step 0.", flush=True)


class ProgramChanged(RuntimeError):
    """A resumed run's program asks for another phase than the one its saved state holds."""


class Replay:
    """The caller's program, replayed over a resumed state.

    After a resume the trainer is at phase k; the caller's script starts again from its
    first line. Its calls that started phases 1..k (grow, new_phase) and fitted phases
    before k are already in the state: they are skipped, each compared first with what the
    record says started that phase, so a script changed since the interruption stops with
    both named instead of continuing the old run under the new script's name."""

    def __init__(self) -> None:
        self.phase = 0  # the phase the caller's program is at
        self.path: Path | None = None  # the file resumed from

    def done(self, trainer_phase: int) -> bool:
        """The caller's current phase was trained to its end before the interruption."""
        return self.phase < trainer_phase

    def skip_start(self, record: Record, call: dict[str, Any]) -> bool:
        """Whether the phase-starting `call` (grow or new_phase, as `started_by` describes it)
        was already done: then it must match the record's, else ProgramChanged."""
        if self.phase >= len(record.phases) - 1:
            return False
        self.phase += 1
        recorded, now = record.phases[self.phase].get("started_by"), json_safe(call)
        if now != recorded:
            where = self.path or "its .resume.pt file"
            raise ProgramChanged(
                f"{record.name}: resumed from {where}, whose phase {self.phase} was started by "
                f"{describe(recorded, now)}; the program now calls {describe(now, recorded)}. To "
                "run the changed program from step 0, use another out_dir (or stem) or delete "
                f"{where}; to continue the saved run, restore the old call.")
        return True

    def started(self) -> None:
        """The caller's program started a new phase itself (not replayed)."""
        self.phase += 1


def describe(call: dict[str, Any] | None, other: dict[str, Any] | None = None) -> str:
    """A phase-starting call in the API's words, e.g. grow('stack', dim='depth', factor=2); of
    its training config, only the fields that differ from `other`'s."""
    if not call:
        return "an unknown call (a record of an older growkit)"
    args = [repr(call["op"])] if "op" in call else []
    args += [f"{k}={v!r}" for k, v in call.items() if k not in ("call", "op", "config")]
    theirs = (other or {}).get("config") or {}
    args += [f"{k}={v!r}" for k, v in (call.get("config") or {}).items() if theirs.get(k, v) != v]
    return f"{call.get('call', '?')}({', '.join(args)})"
