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
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .checkpoint import save_checkpoint, unwrap
from .data import TextCorpus
from .grow import Operator, grow_with_sources, measure_preservation, resolve
from .images import ImageDataset
from .record import Record, json_safe

Data = TextCorpus | ImageDataset
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
        if self.steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps}.")
        if self.batch_size < 1 or self.eval_every < 1 or self.eval_batches < 1:
            raise ValueError("batch_size, eval_every and eval_batches must be >= 1.")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}.")

    def lr_at(self, step: int) -> float:
        """Linear warmup to lr, then cosine down to lr * min_lr_ratio."""
        s = step + self.schedule_offset
        total = self.schedule_steps if self.schedule_steps is not None else self.steps
        if s < self.warmup:
            return self.lr * (s + 1) / self.warmup
        progress = min(1.0, (s - self.warmup) / max(1, total - self.warmup))
        floor = self.lr * self.min_lr_ratio
        return floor + 0.5 * (self.lr - floor) * (1 + math.cos(math.pi * progress))


def auto_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def autocast_for(device: torch.device) -> tuple[contextlib.AbstractContextManager, bool]:
    """(autocast context, needs a grad scaler): bf16 where the GPU has it, fp16 with a
    scaler on older GPUs (Colab's T4), fp32 elsewhere (no autocast, no scaler)."""
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return torch.autocast("cuda", dtype=torch.bfloat16), False
        return torch.autocast("cuda", dtype=torch.float16), True
    return contextlib.nullcontext(), False


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
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum,
                               nesterov=cfg.nesterov and cfg.momentum > 0)
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
                             fused=device.type == "cuda")


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
    """One updating progress line: tqdm.auto draws a single widget in Jupyter (so an
    executed notebook keeps one output, not thousands of lines) and a text bar refreshed
    at most once a second in a terminal. Off in logs and CI unless asked for."""
    from tqdm.auto import tqdm

    on = interactive() if enabled is None else enabled
    return tqdm(total=total, desc=desc, disable=not on, mininterval=1.0, leave=False,
                dynamic_ncols=True)


class Trainer:
    def __init__(self, model: nn.Module, data: Data, config: TrainConfig, *,
                 name: str = "run", device: str | torch.device | None = None,
                 out_dir: str | Path | None = None, stem: str | None = None,
                 progress: bool | None = None, member: int | None = None) -> None:
        """`out_dir`: where the record (<stem>.json, rewritten after every evaluation) and
        checkpoints (<stem>.<tag>.pt) go; `stem` defaults to `name`, so a caller can save
        under e.g. a hash while the record keeps a readable name."""
        self.device = torch.device(device) if device is not None else auto_device()
        self.data = data
        self.config = config
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.stem = name if stem is None else stem
        self.progress = progress
        # Threads are recorded because on a CPU the same seed gives different numbers at
        # another thread count (floating-point sums split differently).
        self.record = Record(name=name, meta={"device": str(self.device), "seed": config.seed,
                                              "threads": torch.get_num_threads(),
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

    # ---- phases ----------------------------------------------------------------------
    def _start_phase(self, model: nn.Module, config: TrainConfig,
                     optimizer_state: dict[str, dict[str, torch.Tensor]] | None,
                     member: int | None = None) -> None:
        self.model = unwrap(model).to(self.device)
        self.config = config
        # Forward options of this phase: which TemplateCNN member trains before growth.
        self.forward_options: dict[str, Any] = {} if member is None else {"member": member}
        self.phase_step = 0
        self.optimizer = make_optimizer(self.model, config, self.device)
        if optimizer_state:
            named = dict(self.model.named_parameters())
            for pname, state in optimizer_state.items():
                self.optimizer.state[named[pname]] = {k: v.clone().to(self.device)
                                                      for k, v in state.items()}
        self.autocast, needs_scaler = autocast_for(self.device)
        # One training path (nanoGPT's idiom): a disabled scaler passes every call through.
        self.scaler = torch.amp.GradScaler("cuda", enabled=needs_scaler)
        # Sequence models (the GPT) have a block size; image models see one sample at a time.
        self.block_size: int | None = getattr(self.model.config, "block_size", None)
        self.tokens_per_sample = self.block_size or 1
        facts: dict[str, Any] = {}
        if hasattr(self.model, "flops_per_token"):
            facts["flops_per_token"] = self.model.flops_per_token(self.block_size)
            self.flops_per_step = (facts["flops_per_token"] * config.batch_size
                                   * self.tokens_per_sample)
        else:
            x, y = self._batch("val", torch.Generator().manual_seed(0))
            self.flops_per_step = training_flops(self.model, x, y, **self.forward_options)
            facts["flops_per_sample"] = self.flops_per_step / config.batch_size
        self.record.phases.append({
            "phase": len(self.record.phases), "start_step": self.step,
            "model": self.model.config.to_dict(), "train": asdict(config),
            "n_params": unwrap(self.model).n_params(), **facts, **self.forward_options,
        })
        self._recent_losses: list[float] = []

    def new_phase(self, config: TrainConfig, *, member: int | None = None) -> None:
        """Start a new phase on the same model: e.g. MixtureGrowth's second member
        (member=1) after the first. The optimizer starts afresh; the ledger continues."""
        self._start_phase(self.model, config, optimizer_state=None, member=member)

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
        if self.out_dir is not None:
            # Written after every evaluation: a crash or kill loses at most one interval.
            self.record.save(self.out_dir / f"{self.stem}.json")
        return entry

    # ---- training ----------------------------------------------------------------------
    def fit(self, steps: int | None = None) -> Trainer:
        """Train the current model for the rest of its phase (or `steps` more steps)."""
        cfg = self.config
        end = cfg.steps if steps is None else min(cfg.steps, self.phase_step + steps)
        if self.phase_step == 0 and not self._evaluated_this_phase():
            self._log_eval()
        self.model.train()
        bar = progress_bar(end - self.phase_step, f"{self.record.name} p{self.phase}",
                           self.progress)
        while self.phase_step < end:
            lr = cfg.lr_at(self.phase_step)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            x, y = self._batch("train", self.batch_gen)
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            with self.autocast:
                _, loss = self.model(x, y, **self.forward_options)
            if not torch.isfinite(loss):
                self._checkpoint("diverged")
                raise FloatingPointError(
                    f"{self.record.name}: loss became {loss.item()} at step {self.step} "
                    f"(lr={lr:.2e}): lower the learning rate or raise warmup. The record so far "
                    "is kept" + (f" in {self.out_dir}." if self.out_dir else "."))
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if cfg.grad_clip > 0:
                self.scaler.unscale_(self.optimizer)  # clip the true gradients, not scaled ones
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.scaler.step(self.optimizer)  # skips the step if fp16 gradients overflowed
            self.scaler.update()
            self._recent_losses.append(loss.item())
            self.phase_step += 1
            self.step += 1
            self.samples += cfg.batch_size
            self.tokens += cfg.batch_size * self.tokens_per_sample
            self.flops += self.flops_per_step
            bar.update(1)
            if self.phase_step % cfg.eval_every == 0 or self.phase_step == cfg.steps:
                entry = self._log_eval()
                bar.set_postfix(val=f"{entry['val_loss']:.3f}", refresh=False)
        bar.close()
        if self.phase_step == cfg.steps:
            self._checkpoint(f"phase{self.phase}")
        return self

    def _evaluated_this_phase(self) -> bool:
        h = self.record.history
        return bool(h) and h[-1]["phase"] == self.phase

    def _checkpoint(self, tag: str) -> None:
        if self.out_dir is not None:
            save_checkpoint(self.out_dir / f"{self.stem}.{tag}.pt", self.model,
                            step=self.step, tokens=self.tokens, flops=self.flops)

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
    """Train `model` in place for `config.steps` steps and return its run record."""
    return Trainer(model, data, config, **kwargs).fit().record


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

