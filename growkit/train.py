"""One small training loop, with the compute ledger and growth in the middle of a run.

    trainer = Trainer(GPT(small_cfg), load_text("kjv"), TrainConfig(steps=500))
    trainer.fit()                                   # phase 0: the small model
    trainer.grow("stack", factor=4, config=TrainConfig(steps=1500))
    trainer.fit()                                   # phase 1: the grown model
    trainer.record                                  # one record, one ledger

The ledger (samples, tokens and FLOPs) runs across phases, so a grown run's FLOPs include
what the small model spent before growth. `train(model, data, config)` is the one-phase
shortcut.

The same loop trains image classifiers (growkit.cnn on an ImageDataset): a sample is then an
image (tokens count images too), FLOPs per step are measured once per model shape with
PyTorch's FlopCounterMode, and every evaluation records accuracy. MixtureGrowth trains a
TemplateCNN's members one phase each, then grows:

    trainer = Trainer(TemplateCNN(cfg), load_images("fashion-mnist"), sgd_cfg, member=0)
    trainer.fit()
    trainer.new_phase(sgd_cfg, member=1)            # same model, the other member
    trainer.fit()
    trainer.grow("mixture", dim="width", coefs="orthogonal", config=after_cfg)
    trainer.fit()

With an `out_dir`, a run is resumable: <stem>.resume.pt holds everything needed to continue
it exactly (growkit.resume), and running the same lines again after an interruption continues
from it, skipping the fit/new_phase/grow calls already done. How it runs — device, compile,
checkpoint interval — is in `runtime=` and `checkpointing=`, never in what a run computes.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from . import distributed
from .checkpoint import save_checkpoint
from .data import TextCorpus
from .device import Runtime
from .distributed import unwrap
from .engine import Engine
from .grow import Operator, grow_with_sources, measure_preservation, resolve
from .grow.freeze import train_only
from .images import ImageDataset
from .progress import progress_bar
from .record import Record, json_safe
from .resume import Checkpointing, Replay, resume_from, save_state
from .settings import SettingError, at_least, check_types, positive, within

Data = TextCorpus | ImageDataset
M = TypeVar("M", bound=nn.Module)
OPTIMIZERS = ("adamw", "sgd")


@dataclass
class TrainConfig:
    steps: int
    batch_size: int = 32
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup: int = 50
    weight_decay: float = 0.1
    # "adamw" (the GPT's default) or "sgd" with momentum (the image recipe: MixtureGrowth
    # trains with SGD, momentum 0.9, Nesterov, weight decay 5e-4, lr 0.1 and a cosine).
    optimizer: str = "adamw"
    beta1: float = 0.9
    beta2: float = 0.95
    momentum: float = 0.9
    nesterov: bool = True
    grad_clip: float = 1.0  # 0 turns clipping off
    eval_every: int = 50
    eval_batches: int = 8
    # The schedule is warmup then cosine over `schedule_steps` (default: this phase's steps),
    # entered at `schedule_offset`: a grown phase continues one schedule with
    # offset = small steps and schedule_steps = small + grown steps.
    schedule_offset: int = 0
    schedule_steps: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        check_types(self)
        at_least(self, 0, "steps", "warmup", "weight_decay", "grad_clip", "schedule_offset",
                 "momentum")
        at_least(self, 1, "batch_size", "eval_every", "eval_batches", "schedule_steps")
        positive(self, "lr", fix=3e-3)
        within(self, "min_lr_ratio", 0, 1, 0.1)
        within(self, "beta1", 0, 1, 0.9, open_hi=True)
        within(self, "beta2", 0, 1, 0.95, open_hi=True)
        if self.optimizer not in OPTIMIZERS:
            raise SettingError(f"TrainConfig.optimizer must be one of {OPTIMIZERS}, got "
                               f"{self.optimizer!r}: e.g. optimizer='adamw'.")

    def lr_at(self, step: int) -> float:
        """Linear warmup to lr, then cosine down to lr * min_lr_ratio."""
        s = step + self.schedule_offset
        total = self.schedule_steps if self.schedule_steps is not None else self.steps
        if s < self.warmup:
            return self.lr * (s + 1) / self.warmup
        progress = min(1.0, (s - self.warmup) / max(1, total - self.warmup))
        floor = self.lr * self.min_lr_ratio
        return floor + 0.5 * (self.lr - floor) * (1 + math.cos(math.pi * progress))


def decays(name: str, p: torch.Tensor) -> bool:
    """Matrices, convolution kernels and templates decay; norms and biases (1-D) do not,
    nor template-mixing coefficients (as in the official MixtureGrowth code)."""
    return p.dim() >= 2 and not name.endswith("coefs")


def make_optimizer(model: nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for n, p in params if decays(n, p)], "weight_decay": cfg.weight_decay},
        {"params": [p for n, p in params if not decays(n, p)], "weight_decay": 0.0},
    ]
    # Multi-tensor (foreach) updates everywhere, fused AdamW on CUDA: a few ops per step
    # instead of several per parameter. On a CPU foreach is not PyTorch's default; it does
    # the same arithmetic, bit for bit, with less Python overhead.
    cuda = device.type == "cuda"
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum,
                               nesterov=cfg.nesterov and cfg.momentum > 0, foreach=True)
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
                             fused=cuda, foreach=None if cuda else True)


_flops_cache: dict[str, float] = {}


def training_flops(model: nn.Module, x: torch.Tensor, y: torch.Tensor, **forward: Any) -> float:
    """FLOPs of one training step (forward and backward) on the batch (x, y), counted by
    PyTorch's FlopCounterMode: matrix multiplies and convolutions (norms, activations and
    the optimizer are not counted). Run once per model shape, batch shape and forward
    options, on a copy of the model on the meta device (shapes only, no arithmetic)."""
    inner = unwrap(model)
    key = json.dumps([type(inner).__name__, inner.config.to_dict(), list(x.shape),
                      sorted(forward.items())], sort_keys=True, default=str)
    if key not in _flops_cache:
        probe = copy.deepcopy(inner).to("meta")
        with FlopCounterMode(display=False) as counter:
            _, loss = probe(x.to("meta"), y.to("meta"), **forward)
            loss.backward()
        _flops_cache[key] = float(counter.get_total_flops())
    return _flops_cache[key]


def seeded(seed: int, build: Callable[[], M]) -> M:
    """`build()` under torch.manual_seed(seed), the seed kept on the model: a Trainer's record
    then names the seed that made its initial weights, e.g. `seeded(0, lambda: GPT(cfg))`. A
    model built any other way is recorded as such (init_seed None: unknown), never under a
    seed that would not reproduce it."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise SettingError(f"seed must be a whole number, got {seed!r}: e.g. seeded(0, ...).")
    torch.manual_seed(seed)
    model = build()
    model.init_seed = seed  # a plain attribute: copied with the model, not in its state dict
    return model


@dataclass
class Ledger:
    """Where a run is and what it has spent, across phases: a grown run's FLOPs include what
    the small model spent before growth."""

    step: int = 0  # global step across phases
    phase_step: int = 0  # step within the current phase
    samples: int = 0  # sequences for a GPT, images for a CNN
    tokens: int = 0  # every token a GPT saw; for images, the images
    flops: float = 0.0

    def advance(self, samples: int, tokens_per_sample: int, flops: float) -> None:
        self.step += 1
        self.phase_step += 1
        self.samples += samples
        self.tokens += samples * tokens_per_sample
        self.flops += flops


class Trainer:
    def __init__(self, model: nn.Module, data: Data, config: TrainConfig, *, name: str = "run",
                 member: int | None = None, out_dir: str | Path | None = None,
                 progress: bool | None = None, checkpointing: Checkpointing | None = None,
                 runtime: Runtime | None = None) -> None:
        """`member`: which TemplateCNN member the first phase trains (MixtureGrowth).

        `out_dir`: where the record (<stem>.json, rewritten after every evaluation), the
        checkpoints (<stem>.phase<k>.pt) and the resumable state (<stem>.resume.pt) go. A new
        Trainer on the same out_dir and stem whose first phase matches continues from it: the
        caller's fit/new_phase/grow calls already done are skipped (checked against the
        record), and the record comes out identical to an uninterrupted run's (wall_s aside)
        on a CPU at the same thread count. `finish()` deletes it. `checkpointing`: its name,
        how often, whether to resume (growkit.resume.Checkpointing).

        `progress`: a live progress line (None: in a terminal or notebook only).
        `runtime`: device, torch.compile, how often losses are checked for NaN
        (growkit.device.Runtime); none of it changes what the run computes.

        The record's `init_seed` is the seed that built the model when growkit.train.seeded
        built it, else None (the weights came from elsewhere: the seed is unknown)."""
        distributed.check_joined()
        self.runtime = runtime or Runtime()
        self.saving = checkpointing or Checkpointing()
        # Under torchrun each rank trains on its own GPU (cuda:LOCAL_RANK).
        self.device = (torch.device(self.runtime.device) if self.runtime.device is not None
                       else distributed.device())
        self.data = data
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.stem = self.saving.stem or name
        self.progress = progress if distributed.is_main() else False  # one bar under torchrun
        init_seed = getattr(unwrap(model), "init_seed", None)
        # Threads are recorded because on a CPU the same seed gives different numbers at
        # another thread count (floating-point sums split differently).
        self.record = Record(name=name, meta={
            "device": str(self.device), "seed": config.seed, "init_seed": init_seed,
            "threads": torch.get_num_threads(),
            "world_size": distributed.world_size(),  # processes that shared each global batch
            "corpus": getattr(data, "name", "?")})
        if init_seed is None:
            self.record.meta["init"] = "weights built outside growkit.train.seeded: seed unknown"
        self.ledger = Ledger()
        self.started = time.perf_counter()
        # One generator for training batches, seeded once: every run with the same seed sees
        # the same batches in the same order, whatever the model.
        self.batch_gen = torch.Generator().manual_seed(config.seed)
        self.replay = Replay()  # which of the caller's calls a resumed state already holds
        self._start_phase(model, config, optimizer_state=None, member=member)
        self._last_save = time.perf_counter()
        self.resumed_from: Path | None = None
        if self.saving.resume:
            own = self.resume_path if self.out_dir is not None else None
            # Under torchrun rank 0 looks (it wrote the file) and every rank resumes alike.
            path = next((Path(p) for p in (own, self.saving.start_from)
                         if p is not None and distributed.on_main(Path(p).exists)), None)
            if path is not None and resume_from(self, path, model):
                self.resumed_from = path

    # ---- phases ----------------------------------------------------------------------
    @property
    def phase(self) -> int:
        return len(self.record.phases) - 1

    @property
    def phase_done(self) -> bool:
        """The caller's current phase has trained to its end (or was, before an interruption)."""
        return self.replay.done(self.phase) or self.ledger.phase_step >= self.config.steps

    def _start_phase(self, model: nn.Module, config: TrainConfig,
                     optimizer_state: dict[str, dict[str, torch.Tensor]] | None,
                     member: int | None = None, started_by: dict[str, Any] | None = None) -> None:
        facts = self._setup(model, config, member)
        if optimizer_state:
            named = dict(self.model.named_parameters())
            for pname, state in optimizer_state.items():
                self.optimizer.state[named[pname]] = {k: v.clone().to(self.device)
                                                      for k, v in state.items()}
        phase: dict[str, Any] = {
            "phase": len(self.record.phases), "start_step": self.ledger.step,
            "model": self.model.config.to_dict(), "train": asdict(config),
            "n_params": unwrap(self.model).n_params(), **facts, **self.forward_options}
        if started_by is not None:  # what the resume replay checks a re-run's call against
            phase["started_by"] = json_safe(started_by)
        self.record.phases.append(phase)
        self.recent_losses: list[float] = []

    def _setup(self, model: nn.Module, config: TrainConfig, member: int | None) -> dict[str, Any]:
        """Model, config, a fresh optimizer, precision and the FLOPs of a step for a phase;
        returns the phase's FLOPs facts for the record."""
        distributed.check_batch(config.batch_size)  # before anything changes
        self.model = unwrap(model).to(self.device)
        self.config = config
        # Forward options of this phase: which TemplateCNN member trains before growth.
        self.forward_options: dict[str, Any] = {} if member is None else {"member": member}
        self.ledger.phase_step = 0
        self.optimizer = make_optimizer(self.model, config, self.device)
        # What trains (DDP, compile, precision); self.model stays the plain model for
        # parameter names, checkpoints and evaluation.
        self.engine = Engine(self.model, self.device, compile=self.runtime.compile,
                             name=self.record.name, find_unused_parameters=member is not None)
        self.pending_losses: list[torch.Tensor] = []  # this window's losses, on the device
        # Sequence models (the GPT) have a block size; image models see one sample at a time.
        self.block_size: int | None = getattr(self.model.config, "block_size", None)
        self.tokens_per_sample = self.block_size or 1
        if isinstance(self.data, TextCorpus) and self.block_size is not None:
            self.data.check_fits(self.model.config.vocab_size, self.block_size)
        facts: dict[str, Any] = {"compiled": self.engine.compiled}
        if hasattr(self.model, "flops_per_token"):
            facts["flops_per_token"] = self.model.flops_per_token(self.block_size)
            self.flops_per_step = (facts["flops_per_token"] * config.batch_size
                                   * self.tokens_per_sample)
        else:
            x, y = self._batch("val", torch.Generator().manual_seed(0))
            self.flops_per_step = training_flops(self.model, x, y, **self.forward_options)
            facts["flops_per_sample"] = self.flops_per_step / config.batch_size
        return facts

    def new_phase(self, config: TrainConfig, *, member: int | None = None) -> None:
        """Start a new phase on the same model: e.g. MixtureGrowth's second member
        (member=1) after the first. The optimizer starts afresh; the ledger continues."""
        call = {"call": "new_phase", "member": member, "config": asdict(config)}
        if self.replay.skip_start(self.record, call):  # done before an interruption
            return
        self._start_phase(self.model, config, optimizer_state=None, member=member, started_by=call)
        self.replay.started()
        self.save_resumable()

    # ---- evaluation --------------------------------------------------------------------
    def _batch(self, split: str, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        if self.block_size is None:
            return self.data.batch(split, self.config.batch_size, generator=generator)
        return self.data.batch(split, self.config.batch_size, self.block_size, generator)

    def val_batches(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        # The same fixed validation batches for every run and every evaluation.
        gen = torch.Generator().manual_seed(10_000 + self.config.seed)
        return [self._batch("val", gen) for _ in range(self.config.eval_batches)]

    @torch.no_grad()
    def evaluate_metrics(self) -> dict[str, float]:
        """Validation loss, and accuracy for a classifier (logits of shape (batch, classes))."""
        self.model.eval()
        losses, correct, seen = [], 0, 0
        for x, y in self.val_batches():
            x, y = x.to(self.device), y.to(self.device)
            with self.engine.autocast:
                logits, loss = self.model(x, y, **self.forward_options)
            losses.append(float(loss))
            if logits.dim() == 2:
                correct += int((logits.argmax(-1) == y).sum())
                seen += len(y)
        self.model.train()
        out = {"val_loss": sum(losses) / len(losses)}
        if seen:
            out["val_acc"] = correct / seen
        return out

    def _log_eval(self) -> dict[str, Any]:
        train_loss = (sum(self.recent_losses) / len(self.recent_losses)
                      if self.recent_losses else None)
        self.recent_losses = []
        led = self.ledger
        entry = {"step": led.step, "phase": self.phase, "samples": led.samples,
                 "tokens": led.tokens, "flops": led.flops, "train_loss": train_loss,
                 **self.evaluate_metrics(), "lr": self.config.lr_at(led.phase_step),
                 "wall_s": time.perf_counter() - self.started}
        self.record.history.append(entry)
        if self.out_dir is not None and distributed.is_main():
            # Written after every evaluation: a crash or kill loses at most one interval.
            self.record.save(self.out_dir / f"{self.stem}.json")
        return entry

    def _evaluated_this_phase(self) -> bool:
        h = self.record.history
        return bool(h) and h[-1]["phase"] == self.phase

    # ---- training ----------------------------------------------------------------------
    def fit(self, steps: int | None = None) -> Trainer:
        """Train the current model for the rest of its phase (or `steps` more steps)."""
        if self.replay.done(self.phase):  # trained before an interruption: resumed past it
            return self
        cfg, ledger = self.config, self.ledger
        end = cfg.steps if steps is None else min(cfg.steps, ledger.phase_step + steps)
        if ledger.phase_step == 0 and not self._evaluated_this_phase():
            self._log_eval()
        self.model.train()
        bar = progress_bar(cfg.steps, f"{self.record.name}, phase {self.phase}", self.progress,
                           done=ledger.phase_step)
        while ledger.phase_step < end:
            for group in self.optimizer.param_groups:
                group["lr"] = cfg.lr_at(ledger.phase_step)
            x, y = self._train_batch()
            loss = self._step(x, y)
            ledger.advance(cfg.batch_size, self.tokens_per_sample, self.flops_per_step)
            # The loss stays on the device: reading it now would make a GPU wait every step.
            self.pending_losses.append(loss.detach())
            bar.update(1)
            evaluating = ledger.phase_step % cfg.eval_every == 0 or ledger.phase_step == cfg.steps
            if evaluating or ledger.phase_step == end or self._check_due():
                self._check_losses()  # before any record or checkpoint is written
                if self.recent_losses:
                    bar.set_postfix_str(f"loss {self.recent_losses[-1]:.3f}", refresh=False)
            if evaluating:
                self._log_eval()
            # Only checked steps are saved: a checkpoint due by the clock waits for the next check.
            if ledger.phase_step < cfg.steps and not self.pending_losses and self._resumable_due():
                self.save_resumable()
        bar.close()
        if ledger.phase_step == cfg.steps:
            self._checkpoint(f"phase{self.phase}")
            self.save_resumable()
        return self

    def _train_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every rank draws the whole global batch (one generator, the one-process sequence)
        and trains on its share of the rows; DDP averages the gradients."""
        x, y = distributed.shard(*self._batch("train", self.batch_gen))
        return x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    def _step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Forward, backward, clip, optimizer step; returns the loss (on the device)."""
        first = self.engine.first_step  # compiles, when compiling
        loss = self.engine.forward_backward(x, y, self.optimizer, **self.forward_options)
        if first:
            self._note_compile()
        scaler = self.engine.scaler  # fp16 only; otherwise every call passes through
        if self.config.grad_clip > 0:
            scaler.unscale_(self.optimizer)  # clip the true gradients, not scaled ones
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        scaler.step(self.optimizer)  # skips the step if fp16 gradients overflowed
        scaler.update()
        return loss

    def _note_compile(self) -> None:
        """The phase's record says whether it trained compiled, and the compile's seconds
        (summed over the lives of a resumed run: each compiles once)."""
        phase = self.record.phases[-1]
        phase["compiled"] = self.engine.compiled
        if self.engine.compile_s is not None:
            phase["compile_s"] = round(phase.get("compile_s", 0.0) + self.engine.compile_s, 2)

    # ---- divergence --------------------------------------------------------------------
    def _check_due(self) -> bool:
        """Losses are checked every nan_check_every steps and at every resumable save by step
        count, at the same steps on every rank (one collective decision)."""
        every = self.saving.every if self.out_dir is not None else None
        return (len(self.pending_losses) >= self.runtime.nan_check_every
                or (every is not None and self.ledger.phase_step % every == 0))

    def _check_losses(self) -> None:
        """Bring this window's losses to the host (one sync) and stop if one is not finite;
        finite ones join the losses the next evaluation averages (in step order, as before)."""
        if not self.pending_losses:
            return
        # Under torchrun each step's loss is averaged over the ranks (the whole batch's loss),
        # so every rank keeps the same numbers, those rank 0's resumable checkpoint holds;
        # a loss not finite on any rank leaves the mean not finite on all: one decision.
        values = distributed.average(torch.stack(self.pending_losses)).tolist()
        self.pending_losses = []
        if not all(math.isfinite(v) for v in values):
            raise Diverged(self._divergence(values))
        self.recent_losses.extend(values)

    def _divergence(self, values: list[float]) -> str:
        """What went wrong, where, and what is kept: the record so far, and the last finite
        checkpoints (resumable ones are only ever written from finite weights)."""
        first = self.ledger.step - len(values)  # the window's first step
        bad = next(i for i, v in enumerate(values) if not math.isfinite(v))
        lr = self.config.lr_at(self.ledger.phase_step - len(values) + bad)
        kept = ""
        if self.out_dir is not None:
            finite = [p.name for p in sorted(self.out_dir.glob(f"{self.stem}.*.pt"))]
            kept = f" in {self.out_dir / (self.stem + '.json')}" + (
                f"; the last finite checkpoints: {', '.join(finite)}" if finite else "")
        return (f"{self.record.name}: loss became {values[bad]} at step {first + bad} (lr={lr:.2e}; "
                f"losses are checked every {self.runtime.nan_check_every} steps): lower the "
                f"learning rate or raise warmup. The record so far is kept{kept}.")

    def _weights_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in self.model.parameters())

    # ---- checkpoints -------------------------------------------------------------------
    def _checkpoint(self, tag: str) -> None:
        if self.out_dir is not None and distributed.is_main():  # rank 0 writes for all
            save_checkpoint(self.out_dir / f"{self.stem}.{tag}.pt", self.model,
                            step=self.ledger.step, tokens=self.ledger.tokens, flops=self.ledger.flops)

    @property
    def resume_path(self) -> Path:
        assert self.out_dir is not None
        return self.out_dir / f"{self.stem}.resume.pt"

    def _resumable_due(self) -> bool:
        if self.out_dir is None:
            return False
        if self.saving.every is not None:
            return self.ledger.phase_step % self.saving.every == 0
        return (self.saving.minutes is not None
                and time.perf_counter() - self._last_save >= 60.0 * self.saving.minutes)

    def save_resumable(self, path: Path | None = None) -> Path | None:
        """Write <stem>.resume.pt (or `path`) atomically: everything a new Trainer needs to
        continue this run exactly (growkit.resume.TrainState). Reads state only (no RNG draw),
        so it changes no number. Skipped when the weights are no longer finite: the last
        finite one is kept. Under torchrun rank 0 writes it (every rank holds the same state)
        and the others return None."""
        if self.out_dir is None or not distributed.is_main() or not self._weights_finite():
            return None
        target = self.resume_path if path is None else path
        save_state(self, target)
        if path is None:
            self._last_save = time.perf_counter()
        return target

    def finish(self) -> None:
        """The run is complete: delete its resumable checkpoint (the phase checkpoints and
        the record stay)."""
        if self.out_dir is not None and distributed.is_main():
            self.resume_path.unlink(missing_ok=True)

    # ---- growth ------------------------------------------------------------------------
    def grow(self, op: str | Operator, *, config: TrainConfig, dim: str = "depth",
             factor: float = 2, fresh_optimizer: bool = True, train_only_new: bool = False,
             **options: Any) -> nn.Module:
        """Grow the current model with `op` (a name, or an Operator from `resolve`) and
        start a new phase that trains it under `config`. An operator that needs data (G_learn)
        trains on this run's data at its batch size unless `options` say otherwise.

        fresh_optimizer=True (the default, as the paper) starts AdamW from zero moments;
        False carries the moments of every parameter that was copied from the small model.
        Whether the schedule restarts is in `config` (schedule_offset / schedule_steps), and
        so is the learning rate after growth (`config.lr`: MixtureGrowth's official recipe
        continues at a lower one). The grown model trains whole (no member), or with
        `train_only_new` only the blocks the operator added (LLaMA-Pro: the old model frozen;
        the ledger still charges the frozen blocks' forward and backward-through cost).
        """
        call = {"call": "grow", "op": op if isinstance(op, str) else op.name, "dim": dim,
                "factor": factor, "fresh_optimizer": fresh_optimizer, "options": options,
                "config": asdict(config)}
        if train_only_new:  # (only then: the records of every earlier run keep their calls)
            call["train_only_new"] = True
        if self.replay.skip_start(self.record, call):  # done before an interruption
            return self.model
        # A failed growth leaves the trainer as it was: nothing below is kept unless it all works.
        before = {**self.__dict__, "ledger": dataclasses.replace(self.ledger)}
        lengths = len(self.record.events), len(self.record.phases)
        try:
            model = self._grow(op, call, config=config, dim=dim, factor=factor,
                               fresh_optimizer=fresh_optimizer, train_only_new=train_only_new,
                               **options)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            del self.record.events[lengths[0]:], self.record.phases[lengths[1]:]
            raise
        self.replay.started()
        self.save_resumable()
        return model

    def _grow(self, op: str | Operator, call: dict[str, Any], *, config: TrainConfig, dim: str,
              factor: float, fresh_optimizer: bool, train_only_new: bool, **options: Any
              ) -> nn.Module:
        old = self.model
        operator = resolve(op, dim, old)
        if operator.needs_data:
            # It trains on this run's data (G_learn's map); its compute joins the ledger below.
            options = {"data": self.data, "batch_size": self.config.batch_size, **options}
        growth = grow_with_sources(old, operator, factor=factor, **options)
        if train_only_new:
            new_blocks = growth.info.get("new_blocks")
            if not new_blocks:
                raise ValueError(f"train_only_new=True needs an operator that adds blocks of its own "
                                 f"and names them (e.g. 'llama_pro'); {operator.name} names none: "
                                 "drop train_only_new, or grow with op='llama_pro'.")
            growth.info["trainable"] = train_only(growth.model, new_blocks)
        self.ledger.tokens += int(growth.info.get("tokens", 0))
        self.ledger.flops += float(growth.info.get("flops", 0.0))
        x, y = self.val_batches()[0]
        preservation = measure_preservation(old, growth.model.to(self.device),
                                            x.to(self.device), y.to(self.device))
        carried = None if fresh_optimizer else self._carried_moments(old, growth.model, growth.sources)
        self.record.events.append({
            "kind": "growth", "step": self.ledger.step, "tokens": self.ledger.tokens,
            "flops": self.ledger.flops, "op": op if isinstance(op, str) else operator.name,
            "dim": operator.dim, "factor": factor, "options": json_safe(options), "info": growth.info,
            "fresh_optimizer": fresh_optimizer, "claims_preservation": operator.preserves_function,
            "preservation": preservation,
            "params_before": unwrap(old).n_params(), "params_after": growth.model.n_params(),
        })
        self._start_phase(growth.model, config, optimizer_state=carried, started_by=call)
        return self.model

    def _carried_moments(self, old: nn.Module, new: nn.Module, sources: dict[str, str]
                         ) -> dict[str, dict[str, torch.Tensor]]:
        """The optimizer state of every new parameter copied whole from an old one."""
        old_named, new_named = dict(old.named_parameters()), dict(new.named_parameters())
        carried = {}
        for new_name, src in sources.items():
            p_old, p_new = old_named.get(src), new_named.get(new_name)
            if (p_old is not None and p_new is not None and p_old.shape == p_new.shape
                    and p_old in self.optimizer.state):
                carried[new_name] = dict(self.optimizer.state[p_old])
        return carried


class Diverged(FloatingPointError):
    """A training loss was not finite: the message names the step, the learning rate, the
    fix and what was kept."""


def train(model: nn.Module, data: Data, config: TrainConfig, **kwargs: Any) -> Record:
    """Train `model` in place for `config.steps` steps and return its run record (with an
    out_dir, an interrupted call resumes where it stopped). `kwargs`: Trainer's."""
    trainer = Trainer(model, data, config, **kwargs).fit()
    trainer.finish()
    return trainer.record


@torch.no_grad()
def accuracy(model: nn.Module, data: ImageDataset, split: str = "test", batch_size: int = 500,
             **forward: Any) -> float:
    """Top-1 accuracy of a classifier on a whole split, in eval mode."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    try:
        for x, y in data.batches(split, batch_size):
            logits, _ = model(x.to(device), **forward)
            correct += int((logits.argmax(-1).cpu() == y).sum())
    finally:
        model.train(was_training)
    return correct / data.size(split)

