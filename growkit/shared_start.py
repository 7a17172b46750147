"""Runs that begin alike train their common beginning once.

MixtureGrowth's four coefficient choices grow the same two half-width members, and the three
plain widenings the same half-width net: with one seed and one budget, the first half of
each of those runs is the same computation, bit for bit. The first run of such a family to
get there leaves a resumable checkpoint of its state at the growth point under a name made
of everything that determines that state; a sibling that finds it continues from it, through
the Trainer's exact resume, instead of training its members again. Its record comes out
identical to training alone (the tests check), and its ledger still counts every FLOP of
its beginning (its wall_s the beginning's seconds too): the speedups compare runs, not what
this machine happened to skip.

Why a name from the settings rather than a check of the weights: a sibling must know before
it trains whether a beginning is its own; anything that could change a number is in the
name (settings, the phases' configs, seed, device, threads, processes, compile), and the
Trainer's resume check still compares the first phase and the seed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from . import distributed
from .resume import RESUME_VERSION
from .study import RunCache
from .train import Trainer


def shared_start(out_dir: Path | None, **what: Any) -> Path | None:
    """Where the runs that begin with `what` (every setting that determines their state at
    the growth point) keep that state; None without a folder (nothing to share through)."""
    if out_dir is None:
        return None
    alike = {**what, "threads": torch.get_num_threads(), "world_size": distributed.world_size(),
             "compile": os.environ.get("GROWKIT_COMPILE"), "resumable": RESUME_VERSION}
    return Path(out_dir) / f"start-{RunCache.key(alike)}.resume.pt"  # the run cache's hash


def share_start(trainer: Trainer, path: Path | None, last_phase: int) -> None:
    """After the beginning's last phase (`last_phase`) has trained: leave its state at `path`
    for the siblings, unless it is there already. A trainer that resumed past that phase
    (its own run, interrupted after growth) holds a later state and shares nothing."""
    if path is None or path.exists():
        return
    if trainer.phase == last_phase and trainer.ledger.phase_step == trainer.config.steps:
        trainer.save_resumable(path)
