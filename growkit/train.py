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
it exactly (see Trainer), and running the same lines again after an interruption continues
from it, skipping the fit/new_phase/grow calls already done.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from . import distributed
from .checkpoint import MODEL_KINDS, CheckpointError, read_payload, save_checkpoint, unwrap
from .data import TextCorpus
from .device import choose
from .grow import Operator, grow_with_sources, measure_preservation, resolve
from .images import ImageDataset
from .record import Record, json_safe
from .settings import SettingError, at_least, check_types, positive, within

Data = TextCorpus | ImageDataset
RESUME_VERSION = 1
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


def autocast_for(device: torch.device) -> tuple[contextlib.AbstractContextManager, bool]:
    """(autocast context, needs a grad scaler): bf16 on GPUs of compute capability >= 8, fp16
    with a scaler on older GPUs (Colab's T4), fp32 elsewhere (growkit.device.choose decides)."""
    chosen = choose(device)  # compute capability decides: a T4 emulates bf16 (slowly)
    if chosen.dtype is None:
        return contextlib.nullcontext(), False
    return torch.autocast(device.type, dtype=chosen.dtype), chosen.needs_scaler


def compile_by_default(device: torch.device, setting: bool | None = None) -> bool:
    """Whether a Trainer compiles: `setting` if given, else GROWKIT_COMPILE=1/0 if set, else
    on for CUDA only. On the course's 2-core CPU compiling (about 20-30 s a model shape, a
    few with a warm cache) makes the 4-block model's steps about 1.5x faster but the 1-block
    model's none, and a course run is a minute or two: no clear gain, and eager keeps the
    course's published numbers (tools/bench.py measures it on any machine)."""
    if setting is not None:
        return setting
    env = os.environ.get("GROWKIT_COMPILE", "").strip().lower()
    if env in ("1", "true", "yes", "on"):
        return True
    if env in ("0", "false", "no", "off"):
        return False
    if env:
        raise SettingError(f"GROWKIT_COMPILE must be 1 or 0, got {env!r}: e.g. GROWKIT_COMPILE=0.")
    return device.type == "cuda"


def compiled(module: nn.Module) -> nn.Module:
    """torch.compile with static shapes (each model shape its own kernels, never a dynamic
    graph after a shape change) and room for the many shapes one study trains."""
    import torch._dynamo

    config = torch._dynamo.config
    # `recompile_limit` since torch 2.6, `cache_size_limit` before (e.g. an older Colab torch)
    name = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"
    setattr(config, name, max(getattr(config, name), 64))
    return torch.compile(module, dynamic=False)


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


def interactive() -> bool:
    """True in a terminal or a Jupyter kernel, where a live progress bar helps."""
    if sys.stderr.isatty():
        return True
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in shell.config


def progress_bar(total: int, desc: str, enabled: bool | None):
    """One updating text line, refreshed at most once a second, in a terminal and in Jupyter
    alike (a text bar, not tqdm's widget: a saved notebook then keeps plain text where the
    bar was, never "Error displaying widget"). Off in logs and CI unless asked for."""
    from tqdm import tqdm

    on = interactive() if enabled is None else enabled
    return tqdm(total=total, desc=desc, disable=not on, mininterval=1.0, leave=False,
                dynamic_ncols=True)


class Trainer:
    def __init__(self, model: nn.Module, data: Data, config: TrainConfig, *,
                 name: str = "run", device: str | torch.device | None = None,
                 out_dir: str | Path | None = None, stem: str | None = None,
                 progress: bool | None = None, member: int | None = None,
                 checkpoint_every: int | None = None, checkpoint_minutes: float | None = 3.0,
                 resume: bool = True, start_from: Path | None = None,
                 init_seed: int | None = None, compile: bool | None = None,
                 nan_check_every: int = 10) -> None:
        """`out_dir`: where the record (<stem>.json, rewritten after every evaluation) and
        checkpoints (<stem>.<tag>.pt) go; `stem` defaults to `name`, so a caller can save
        under e.g. a hash while the record keeps a readable name.

        With an `out_dir` the trainer also keeps a resumable checkpoint, <stem>.resume.pt
        (weights, optimizer, schedule position, every RNG, the record so far): every
        `checkpoint_every` steps, or every `checkpoint_minutes` of training when that is
        None, and at every phase's end, growth and new phase. Writing it changes no number.
        With `resume` (the default) a new Trainer on the same out_dir and stem whose first
        phase matches continues from it: the caller's fit/new_phase/grow calls that were
        already done are skipped, and the record comes out identical to an uninterrupted
        run's (wall_s aside) on a CPU at the same thread count. `finish()` deletes it.

        `start_from`: another run's resumable checkpoint (e.g. growkit.shared_start's) to
        continue from when this run has none of its own, so runs that begin alike train
        their common beginning once; the same check of the first phase applies.

        `init_seed`: the seed that built the model's initial weights, for the record
        (default: torch.initial_seed(), the last torch.manual_seed).

        `compile`: train through torch.compile (recompiled once after growth; evaluation
        stays eager). None: the GROWKIT_COMPILE environment variable (1/0) if set, else on
        for CUDA only (see `compile_by_default`). A compiler that fails falls back to eager
        with a one-line note. The record's phase says `compiled` and `compile_s`.

        `nan_check_every`: per-step losses stay on the device, and whether they are finite
        is checked every this many steps (and before every evaluation and checkpoint): one
        host sync per check instead of two per step. A divergence names its step either way."""
        distributed.check_joined()
        # Under torchrun each rank trains on its own GPU (cuda:LOCAL_RANK).
        self.device = torch.device(device) if device is not None else distributed.device()
        self.data = data
        self.config = config
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.stem = name if stem is None else stem
        self.progress = progress if distributed.is_main() else False  # one bar under torchrun
        if checkpoint_every is not None and (isinstance(checkpoint_every, bool) or checkpoint_every < 1):
            raise SettingError(f"checkpoint_every must be a whole number >= 1 or None, got "
                               f"{checkpoint_every!r}: e.g. checkpoint_every=500.")
        if checkpoint_minutes is not None and not checkpoint_minutes > 0:
            raise SettingError(f"checkpoint_minutes must be > 0 or None, got {checkpoint_minutes!r}: "
                               "e.g. checkpoint_minutes=3.")
        if isinstance(nan_check_every, bool) or not isinstance(nan_check_every, int) or nan_check_every < 1:
            raise SettingError(f"nan_check_every must be a whole number >= 1, got {nan_check_every!r}: "
                               "e.g. nan_check_every=10.")
        if compile not in (None, True, False):
            raise SettingError(f"compile must be True, False or None (auto), got {compile!r}.")
        self.compile_setting = compile
        self.nan_check_every = nan_check_every
        self.checkpoint_every = checkpoint_every
        self.checkpoint_seconds = None if checkpoint_minutes is None else 60.0 * checkpoint_minutes
        # Threads are recorded because on a CPU the same seed gives different numbers at
        # another thread count (floating-point sums split differently).
        self.record = Record(name=name, meta={"device": str(self.device), "seed": config.seed,
                                              "init_seed": torch.initial_seed() if init_seed is None
                                              else init_seed,
                                              "threads": torch.get_num_threads(),
                                              # processes that shared each global batch (torchrun)
                                              "world_size": distributed.world_size(),
                                              "corpus": getattr(data, "name", "?")})
        self.samples = 0  # sequences for a GPT, images for a CNN
        self.tokens = 0  # every token a GPT saw; for images, the images
        self.flops = 0.0
        self.step = 0  # global step across phases
        self.started = time.perf_counter()
        # One generator for training batches, seeded once: every run with the same seed sees
        # the same batches in the same order, whatever the model.
        self.batch_gen = torch.Generator().manual_seed(config.seed)
        self._start_phase(model, config, optimizer_state=None, member=member)
        # The caller's phase: fit/new_phase/grow calls of phases an earlier, interrupted
        # life of this run already did are skipped (see _resume).
        self._program_phase = 0
        self._last_save = time.perf_counter()
        self.resumed_from: Path | None = None
        # Under torchrun rank 0 looks (it wrote the file) and every rank resumes alike.
        if resume and self.out_dir is not None and distributed.on_main(self.resume_path.exists):
            self._resume(self.resume_path, model)
        elif resume and start_from is not None and distributed.on_main(Path(start_from).exists):
            self._resume(Path(start_from), model)

    # ---- phases ----------------------------------------------------------------------
    def _start_phase(self, model: nn.Module, config: TrainConfig,
                     optimizer_state: dict[str, dict[str, torch.Tensor]] | None,
                     member: int | None = None) -> None:
        facts = self._setup(model, config, member)
        if optimizer_state:
            named = dict(self.model.named_parameters())
            for pname, state in optimizer_state.items():
                self.optimizer.state[named[pname]] = {k: v.clone().to(self.device)
                                                      for k, v in state.items()}
        self.record.phases.append({
            "phase": len(self.record.phases), "start_step": self.step,
            "model": self.model.config.to_dict(), "train": asdict(config),
            "n_params": unwrap(self.model).n_params(), **facts, **self.forward_options,
        })
        self._recent_losses: list[float] = []

    def _setup(self, model: nn.Module, config: TrainConfig, member: int | None) -> dict[str, Any]:
        """Model, config, a fresh optimizer and the FLOPs of a step for a phase; returns the
        phase's FLOPs facts for the record."""
        distributed.check_batch(config.batch_size)  # before anything changes
        self.model = unwrap(model).to(self.device)
        self.config = config
        # Forward options of this phase: which TemplateCNN member trains before growth.
        self.forward_options: dict[str, Any] = {} if member is None else {"member": member}
        self.phase_step = 0
        self.optimizer = make_optimizer(self.model, config, self.device)
        # What trains: the model itself, or under torchrun a DDP wrapper around it (rebuilt
        # here at every phase and growth, on every rank). self.model stays the plain model:
        # parameter names (optimizer state carried across growth), checkpoints, evaluation.
        # A TemplateCNN training one member leaves the other's coefficients unused.
        self.engine = distributed.wrap(self.model,
                                       find_unused_parameters=bool(self.forward_options))
        # torch.compile on top, lazily: the phase's first step compiles (timed there, and a
        # compiler that fails falls back to eager). A new model (growth) compiles anew.
        self.compiled = compile_by_default(self.device, self.compile_setting)
        if self.compiled:
            try:
                self.engine = compiled(self.engine)
            except Exception as e:  # refused at once (e.g. a Python this torch cannot compile)
                self._compile_failed(e)
        self._compile_pending = self.compiled
        self._pending_losses: list[torch.Tensor] = []  # this window's losses, on the device
        self.autocast, needs_scaler = autocast_for(self.device)
        # One training path (nanoGPT's idiom): a disabled scaler passes every call through.
        self.scaler = torch.amp.GradScaler("cuda", enabled=needs_scaler)
        # Sequence models (the GPT) have a block size; image models see one sample at a time.
        self.block_size: int | None = getattr(self.model.config, "block_size", None)
        self.tokens_per_sample = self.block_size or 1
        self._check_data()
        facts: dict[str, Any] = {"compiled": self.compiled}
        if hasattr(self.model, "flops_per_token"):
            facts["flops_per_token"] = self.model.flops_per_token(self.block_size)
            self.flops_per_step = (facts["flops_per_token"] * config.batch_size
                                   * self.tokens_per_sample)
        else:
            x, y = self._batch("val", torch.Generator().manual_seed(0))
            self.flops_per_step = training_flops(self.model, x, y, **self.forward_options)
            facts["flops_per_sample"] = self.flops_per_step / config.batch_size
        return facts

    def _check_data(self) -> None:
        """A text model that fits its corpus: a vocabulary at least the corpus's, and splits
        longer than one block (torch's own errors for these name neither)."""
        if self.block_size is None or not isinstance(self.data, TextCorpus):
            return
        vocab = getattr(self.model.config, "vocab_size", None)
        if vocab is not None and vocab < self.data.vocab_size:
            raise ValueError(f"the model's vocab_size={vocab} is smaller than the {self.data.name} "
                             f"corpus's {self.data.vocab_size} characters: build it with "
                             f"vocab_size={self.data.vocab_size} (data.vocab_size).")
        for split in ("train", "val"):
            n = len(getattr(self.data, split))
            if n < self.block_size + 2:
                raise ValueError(f"the {self.data.name} corpus's {split} split has {n} tokens, fewer "
                                 f"than one block of block_size={self.block_size} plus one: use a "
                                 f"longer text or block_size <= {max(1, n - 2)}.")

    def new_phase(self, config: TrainConfig, *, member: int | None = None) -> None:
        """Start a new phase on the same model: e.g. MixtureGrowth's second member
        (member=1) after the first. The optimizer starts afresh; the ledger continues."""
        if self._program_phase < self.phase:  # done before an interruption: resumed past it
            self._program_phase += 1
            return
        self._start_phase(self.model, config, optimizer_state=None, member=member)
        self._program_phase += 1
        self.save_resumable()

    @property
    def phase(self) -> int:
        return len(self.record.phases) - 1

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
            with self.autocast:
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
        train_loss = (sum(self._recent_losses) / len(self._recent_losses)
                      if self._recent_losses else None)
        self._recent_losses = []
        entry = {"step": self.step, "phase": self.phase, "samples": self.samples,
                 "tokens": self.tokens, "flops": self.flops, "train_loss": train_loss,
                 **self.evaluate_metrics(), "lr": self.config.lr_at(self.phase_step),
                 "wall_s": time.perf_counter() - self.started}
        self.record.history.append(entry)
        if self.out_dir is not None and distributed.is_main():
            # Written after every evaluation: a crash or kill loses at most one interval.
            self.record.save(self.out_dir / f"{self.stem}.json")
        return entry

    # ---- training ----------------------------------------------------------------------
    def fit(self, steps: int | None = None) -> Trainer:
        """Train the current model for the rest of its phase (or `steps` more steps)."""
        if self._program_phase < self.phase:  # done before an interruption: resumed past it
            return self
        cfg = self.config
        end = cfg.steps if steps is None else min(cfg.steps, self.phase_step + steps)
        if self.phase_step == 0 and not self._evaluated_this_phase():
            self._log_eval()
        self.model.train()
        self._keep_good_state()
        bar = progress_bar(end - self.phase_step,
                           f"{self.record.name} p{self.phase} ({torch.get_num_threads()} thr)",
                           self.progress)
        while self.phase_step < end:
            lr = cfg.lr_at(self.phase_step)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            # Every rank draws the whole global batch (one generator, the one-process
            # sequence) and trains on its share of the rows; DDP averages the gradients.
            x, y = distributed.shard(*self._batch("train", self.batch_gen))
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            loss = self._compile_step(x, y) if self._compile_pending else self._forward_backward(x, y)
            if cfg.grad_clip > 0:
                self.scaler.unscale_(self.optimizer)  # clip the true gradients, not scaled ones
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.scaler.step(self.optimizer)  # skips the step if fp16 gradients overflowed
            self.scaler.update()
            # The loss stays on the device: reading it now would make a GPU wait every step.
            self._pending_losses.append(loss.detach())
            self.phase_step += 1
            self.step += 1
            self.samples += cfg.batch_size
            self.tokens += cfg.batch_size * self.tokens_per_sample
            self.flops += self.flops_per_step
            bar.update(1)
            evaluating = self.phase_step % cfg.eval_every == 0 or self.phase_step == cfg.steps
            # Checked every nan_check_every steps, and always before the record or a
            # checkpoint is written, at the same steps on every rank (one collective decision).
            if (evaluating or self.phase_step == end
                    or len(self._pending_losses) >= self.nan_check_every
                    or (self.checkpoint_every is not None
                        and self.phase_step % self.checkpoint_every == 0)):
                self._check_losses()
            if evaluating:
                entry = self._log_eval()
                bar.set_postfix(val=f"{entry['val_loss']:.3f}", refresh=False)
            # Only checked steps are saved: a checkpoint due by the clock waits for the next check.
            if self.phase_step < cfg.steps and not self._pending_losses and self._resumable_due():
                self.save_resumable()
        bar.close()
        self._good_state = None  # a copy of the model, only needed while training
        if self.phase_step == cfg.steps:
            self._checkpoint(f"phase{self.phase}")
            self.save_resumable()
        return self

    def _forward_backward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with self.autocast:
            _, loss = self.engine(x, y, **self.forward_options)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        return loss

    def _compile_step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The phase's first forward and backward through torch.compile: it compiles them,
        timed for the record (compile_s), or, where the compiler fails (no C++ toolchain, an
        unsupported platform), falls back to eager with a one-line note."""
        self._compile_pending = False
        t0 = time.perf_counter()
        try:
            loss = self._forward_backward(x, y)
        except Exception as e:  # any compiler failure; a real error recurs below, eagerly
            self._compile_failed(e)
            loss = self._forward_backward(x, y)  # nothing was stepped: the same step, eagerly
        phase = self.record.phases[-1]
        phase["compiled"] = self.compiled
        if self.compiled:
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)  # the compile's time, not its launch's
            # Summed over the lives of a resumed run: each compiles once.
            phase["compile_s"] = round(phase.get("compile_s", 0.0) + time.perf_counter() - t0, 2)
        return loss

    def _compile_failed(self, error: Exception) -> None:
        """Train eagerly from here on, and say so in one line."""
        first = (str(error).strip().splitlines() or [""])[0][:160]
        print(f"{self.record.name}: note: torch.compile failed here ({type(error).__name__}: "
              f"{first}); training eagerly instead (compile=False or GROWKIT_COMPILE=0 skips "
              "trying).", flush=True)
        self.engine = getattr(self.engine, "_orig_mod", self.engine)
        self.compiled = False

    def _keep_good_state(self) -> None:
        """Copy the weights and buffers whose losses were all finite (with an out_dir: they
        become <stem>.diverged.pt if a later loss is not). A copy every nan_check_every
        steps, on the device: cheap beside those steps, and no host sync."""
        if self.out_dir is None:
            return
        state = [t.detach() for t in self.model.state_dict().values()]
        if getattr(self, "_good_state", None) is None:
            self._good_state = [t.clone() for t in state]
        else:
            torch._foreach_copy_(self._good_state, state)

    def _check_losses(self) -> None:
        """Bring this window's losses to the host (one sync) and stop if one is not finite;
        finite ones join the losses the next evaluation averages (in step order, as before)."""
        if not self._pending_losses:
            return
        # Under torchrun each step's loss is averaged over the ranks (the whole batch's loss),
        # so every rank keeps the same numbers, those rank 0's resumable checkpoint holds;
        # a loss not finite on any rank leaves the mean not finite on all: one decision.
        values = distributed.average(torch.stack(self._pending_losses)).tolist()
        self._pending_losses = []
        if all(math.isfinite(v) for v in values):
            self._recent_losses.extend(values)
            self._keep_good_state()
            return
        self._diverged(values)

    def _diverged(self, values: list[float]) -> None:
        first = self.step - len(values)  # the window's first step
        # (Under torchrun `values` are the means over ranks: every rank names the same step.)
        bad = next(i for i, v in enumerate(values) if not math.isfinite(v))
        what = f"became {values[bad]} at step {first + bad}"
        lr = self.config.lr_at(self.phase_step - len(values) + bad)
        kept = ""
        if self.out_dir is not None:
            # The weights of the window's first step (the last check's): those that gave the
            # non-finite loss when it came at once. Never an all-NaN file: if they are not
            # finite, the last finite checkpoints stay as they are.
            good = self._good_state or []
            if good and all(bool(torch.isfinite(t).all()) for t in good if t.is_floating_point()):
                for t, g in zip(self.model.state_dict().values(), good, strict=True):
                    t.copy_(g)
                if distributed.is_main():
                    back = len(values)
                    save_checkpoint(self.out_dir / f"{self.stem}.diverged.pt", self.model,
                                    step=first, tokens=self.tokens - back * self.config.batch_size
                                    * self.tokens_per_sample, flops=self.flops - back * self.flops_per_step)
                kept = (f"; the weights {'that gave it' if bad == 0 else f'at step {first}, before it,'}"
                        f" are in {self.stem}.diverged.pt")
            finite = [p.name for p in sorted(self.out_dir.glob(f"{self.stem}.*.pt"))
                      if not p.name.endswith(".diverged.pt")]
            if finite:
                kept += f"; the last finite checkpoints: {', '.join(finite)}"
        raise FloatingPointError(
            f"{self.record.name}: loss {what} (lr={lr:.2e}; losses are checked every "
            f"{self.nan_check_every} steps): lower the learning rate or raise warmup. The record "
            "so far is kept" + (f" in {self.out_dir}{kept}." if self.out_dir else "."))

    @property
    def phase_done(self) -> bool:
        """The caller's current phase has trained to its end (or was, before an interruption)."""
        return self._program_phase < self.phase or self.phase_step >= self.config.steps

    def _evaluated_this_phase(self) -> bool:
        h = self.record.history
        return bool(h) and h[-1]["phase"] == self.phase

    def _checkpoint(self, tag: str) -> None:
        if self.out_dir is not None and distributed.is_main():  # rank 0 writes for all
            save_checkpoint(self.out_dir / f"{self.stem}.{tag}.pt", self.model,
                            step=self.step, tokens=self.tokens, flops=self.flops)

    def _weights_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in self.model.parameters())

    # ---- resumable checkpoints -----------------------------------------------------------
    @property
    def resume_path(self) -> Path:
        assert self.out_dir is not None
        return self.out_dir / f"{self.stem}.resume.pt"

    def _resumable_due(self) -> bool:
        if self.out_dir is None:
            return False
        if self.checkpoint_every is not None:
            return self.phase_step % self.checkpoint_every == 0
        return (self.checkpoint_seconds is not None
                and time.perf_counter() - self._last_save >= self.checkpoint_seconds)

    def save_resumable(self, path: Path | None = None) -> Path | None:
        """Write <stem>.resume.pt (or `path`) atomically: everything a new Trainer needs to
        continue this run exactly. Reads state only (no RNG draw), so it changes no number.
        Skipped when the weights are no longer finite: the last finite one is kept. Under
        torchrun rank 0 writes it (every rank holds the same state) and the others return None."""
        if self.out_dir is None or not distributed.is_main() or not self._weights_finite():
            return None
        target = self.resume_path if path is None else path
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
        save_checkpoint(
            target, self.model, resumable=RESUME_VERSION,
            record=self.record.to_json(), train_config=asdict(self.config),
            forward_options=dict(self.forward_options), phase_step=self.phase_step,
            step=self.step, samples=self.samples, tokens=self.tokens, flops=self.flops,
            recent_losses=list(self._recent_losses), optimizer=self.optimizer.state_dict(),
            scaler=self.scaler.state_dict(), batch_gen=self.batch_gen.get_state(),
            torch_rng=torch.get_rng_state(), cuda_rng=cuda,
            elapsed=time.perf_counter() - self.started)
        if path is None:
            self._last_save = time.perf_counter()
        return target

    def _resume(self, path: Path, model: nn.Module) -> None:
        """Continue from a resumable checkpoint whose first phase is this trainer's."""
        # Rank 0 reads it and sends it to the others (no file system shared between
        # machines needed); every rank then restores the same state.
        payload = distributed.on_main(lambda: read_payload(path))
        if payload.get("resumable") != RESUME_VERSION:
            raise CheckpointError(path, "it is not a resumable checkpoint of this growkit version")
        saved = Record.from_json(payload["record"])

        def identity(rec: Record) -> Any:  # what makes it the same run: its start
            # (compiling or not changes no setting: a run may resume eager or compiled)
            first = ({k: v for k, v in rec.phases[0].items() if k not in ("compiled", "compile_s")}
                     if rec.phases else None)
            start = [first,
                     *(rec.meta.get(k) for k in ("corpus", "seed", "init_seed"))]
            return json.loads(json.dumps(json_safe(start)))

        if identity(self.record) != identity(saved):
            if distributed.is_main():
                print(f"{self.record.name}: not resuming from {path}: it is of another run (other "
                      "model, data or settings); starting at step 0 (it will be overwritten).",
                      flush=True)
            return
        saved.name = self.record.name  # (another run's, when started from a shared beginning)
        cls, config_cls = MODEL_KINDS[payload["kind"]]
        inner = unwrap(model)
        if type(inner) is cls and inner.config.to_dict() == payload["config"]:
            restored = inner  # the caller's own model object, as if trained in place
        else:
            restored = cls(config_cls(**payload["config"]))
        restored.load_state_dict(payload["state_dict"])
        config = TrainConfig(**payload["train_config"])
        options = payload["forward_options"]
        self._setup(restored, config, options.get("member"))
        self.record = saved
        self.phase_step = payload["phase_step"]
        self.step, self.samples = payload["step"], payload["samples"]
        self.tokens, self.flops = payload["tokens"], payload["flops"]
        self._recent_losses = list(payload["recent_losses"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scaler.load_state_dict(payload["scaler"])
        self.batch_gen.set_state(payload["batch_gen"])
        torch.set_rng_state(payload["torch_rng"])
        if payload["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(payload["cuda_rng"])
        self.started = time.perf_counter() - payload["elapsed"]
        self.resumed_from = path
        if not distributed.is_main():
            return  # one rank speaks for all
        threads = saved.meta.get("threads")
        if threads is not None and threads != torch.get_num_threads():
            print(f"{self.record.name}: note: this run began at {threads} threads and continues at "
                  f"{torch.get_num_threads()}: on a CPU its numbers will differ from an "
                  "uninterrupted run's.", flush=True)
        world = saved.meta.get("world_size", 1)
        if world != distributed.world_size():
            print(f"{self.record.name}: note: this run began on {world} process(es) and continues "
                  f"on {distributed.world_size()}: the same global batches, but its numbers will "
                  "differ from an uninterrupted run's in the last digits (sums split "
                  "differently).", flush=True)
        print(f"{self.record.name}: resuming from {path} at step {self.step} (phase {self.phase}, "
              f"step {self.phase_step} of {config.steps}) instead of step 0.", flush=True)

    def finish(self) -> None:
        """The run is complete: delete its resumable checkpoint (the phase checkpoints and
        the record stay)."""
        if self.out_dir is not None and distributed.is_main():
            self.resume_path.unlink(missing_ok=True)

    # ---- growth ------------------------------------------------------------------------
    def grow(self, op: str | Operator, *, config: TrainConfig, dim: str = "depth",
             factor: float = 2, fresh_optimizer: bool = True, **options: Any) -> nn.Module:
        """Grow the current model with `op` (a name, or an Operator from `resolve`) and
        start a new phase that trains it under `config`. An operator that needs data (G_learn)
        trains on this run's data at its batch size unless `options` say otherwise.

        fresh_optimizer=True (the default, as the paper) starts AdamW from zero moments;
        False carries the moments of every parameter that was copied from the small model.
        Whether the schedule restarts is in `config` (schedule_offset / schedule_steps), and
        so is the learning rate after growth (`config.lr`: MixtureGrowth's official recipe
        continues at a lower one). The grown model trains whole (no member).
        """
        if self._program_phase < self.phase:  # done before an interruption: resumed past it
            self._program_phase += 1
            return self.model
        # A failed growth leaves the trainer as it was: nothing below is kept unless it all works.
        before = dict(self.__dict__)
        lengths = len(self.record.events), len(self.record.phases)
        try:
            model = self._grow(op, config=config, dim=dim, factor=factor,
                               fresh_optimizer=fresh_optimizer, **options)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            del self.record.events[lengths[0]:], self.record.phases[lengths[1]:]
            raise
        self._program_phase += 1
        self.save_resumable()
        return model

    def _grow(self, op: str | Operator, *, config: TrainConfig, dim: str, factor: float,
              fresh_optimizer: bool, **options: Any) -> nn.Module:
        old = self.model
        operator = resolve(op, dim, old)
        if operator.needs_data:
            # It trains on this run's data (G_learn's map); its compute joins the ledger below.
            options = {"data": self.data, "batch_size": self.config.batch_size, **options}
        growth = grow_with_sources(old, operator, factor=factor, **options)
        self.tokens += int(growth.info.get("tokens", 0))
        self.flops += float(growth.info.get("flops", 0.0))
        x, y = self.val_batches()[0]
        preservation = measure_preservation(old, growth.model.to(self.device),
                                            x.to(self.device), y.to(self.device))
        carried = None
        if not fresh_optimizer:
            old_named = dict(old.named_parameters())
            new_named = dict(growth.model.named_parameters())
            carried = {}
            for new_name, src in growth.sources.items():
                p_old, p_new = old_named.get(src), new_named.get(new_name)
                if (p_old is not None and p_new is not None and p_old.shape == p_new.shape
                        and p_old in self.optimizer.state):
                    carried[new_name] = dict(self.optimizer.state[p_old])
        self.record.events.append({
            "kind": "growth", "step": self.step, "tokens": self.tokens, "flops": self.flops,
            "op": op if isinstance(op, str) else operator.name, "dim": operator.dim,
            "factor": factor, "options": json_safe(options), "info": growth.info,
            "fresh_optimizer": fresh_optimizer,
            "claims_preservation": operator.preserves_function,
            "preservation": preservation,
            "params_before": unwrap(old).n_params(), "params_after": growth.model.n_params(),
        })
        self._start_phase(growth.model, config, optimizer_state=carried)
        return self.model


def train(model: nn.Module, data: Data, config: TrainConfig, **kwargs: Any) -> Record:
    """Train `model` in place for `config.steps` steps and return its run record (with an
    out_dir, an interrupted call resumes where it stopped)."""
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

