"""One small training loop, with the compute ledger and growth in the middle of a run.

    trainer = Trainer(GPT(small_cfg), load_text("kjv"), TrainConfig(steps=500))
    trainer.fit()                                   # phase 0: the small model
    trainer.grow("stack", factor=4, config=TrainConfig(steps=1500))
    trainer.fit()                                   # phase 1: the grown model
    trainer.record                                  # one record, one ledger

The ledger (tokens and FLOPs) runs across phases, so a grown run's FLOPs include what the
small model spent before growth. `train(model, data, config)` is the one-phase shortcut.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoint import save_checkpoint, unwrap
from .data import TextCorpus
from .grow import claims_preservation, grow_with_sources, measure_preservation
from .grow.registry import resolve
from .record import Record


@dataclass
class TrainConfig:
    steps: int
    batch_size: int = 32
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup: int = 50
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    eval_every: int = 50
    eval_batches: int = 8
    # The schedule is warmup then cosine over `schedule_steps` (default: this phase's steps),
    # entered at `schedule_offset`: a grown phase continues one schedule with
    # offset = small steps and schedule_steps = small + grown steps.
    schedule_offset: int = 0
    schedule_steps: int | None = None
    seed: int = 0
    compile: bool = False

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps}.")
        if self.batch_size < 1 or self.eval_every < 1 or self.eval_batches < 1:
            raise ValueError("batch_size, eval_every and eval_batches must be >= 1.")

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
    scaler on older GPUs (Colab's T4), fp32 elsewhere."""
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return torch.autocast("cuda", dtype=torch.bfloat16), False
        return torch.autocast("cuda", dtype=torch.float16), True
    return contextlib.nullcontext(), False


def make_optimizer(model: nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    # Matrices decay; norms (1-D gains) do not.
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
                             fused=device.type == "cuda")


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
    def __init__(self, model: nn.Module, data: TextCorpus, config: TrainConfig, *,
                 name: str = "run", device: str | torch.device | None = None,
                 out_dir: str | Path | None = None, progress: bool | None = None) -> None:
        self.device = torch.device(device) if device is not None else auto_device()
        self.data = data
        self.config = config
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.progress = progress
        self.record = Record(name=name, meta={"device": str(self.device), "seed": config.seed,
                                              "corpus": getattr(data, "name", "?")})
        self.tokens = 0
        self.flops = 0.0
        self.step = 0  # global step across phases
        self.started = time.perf_counter()
        # One generator for training batches, seeded once: every run with the same seed sees
        # the same batches in the same order, whatever the model.
        self.batch_gen = torch.Generator().manual_seed(config.seed)
        self._start_phase(model, config, optimizer_state=None)

    # ---- phases ----------------------------------------------------------------------
    def _start_phase(self, model: nn.Module, config: TrainConfig,
                     optimizer_state: dict[str, dict[str, torch.Tensor]] | None) -> None:
        self.model = unwrap(model).to(self.device)
        self.config = config
        self.phase_step = 0
        self.optimizer = make_optimizer(self.model, config, self.device)
        if optimizer_state:
            named = dict(self.model.named_parameters())
            for pname, state in optimizer_state.items():
                self.optimizer.state[named[pname]] = {k: v.clone().to(self.device)
                                                      for k, v in state.items()}
        autocast, needs_scaler = autocast_for(self.device)
        self.autocast = autocast
        self.scaler = torch.amp.GradScaler("cuda") if needs_scaler else None
        self.forward = torch.compile(self.model) if config.compile else self.model
        self.block_size = self.model.config.block_size
        self.flops_per_step = (self.model.flops_per_token(self.block_size)
                               * config.batch_size * self.block_size)
        self.record.phases.append({
            "phase": len(self.record.phases), "start_step": self.step,
            "model": self.model.config.to_dict(), "train": asdict(config),
            "n_params": unwrap(self.model).n_params(),
            "flops_per_token": self.model.flops_per_token(self.block_size),
        })
        self._recent_losses: list[float] = []

    @property
    def phase(self) -> int:
        return len(self.record.phases) - 1

    # ---- evaluation --------------------------------------------------------------------
    def val_batches(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        # The same fixed validation batches for every run and every evaluation.
        gen = torch.Generator().manual_seed(10_000 + self.config.seed)
        return [self.data.batch("val", self.config.batch_size, self.block_size, gen)
                for _ in range(self.config.eval_batches)]

    @torch.no_grad()
    def evaluate(self) -> float:
        self.model.eval()
        losses = []
        for x, y in self.val_batches():
            with self.autocast:
                _, loss = self.forward(x.to(self.device), y.to(self.device))
            losses.append(float(loss))
        self.model.train()
        return sum(losses) / len(losses)

    def _log_eval(self) -> dict[str, Any]:
        train_loss = (sum(self._recent_losses) / len(self._recent_losses)
                      if self._recent_losses else None)
        self._recent_losses = []
        entry = {"step": self.step, "phase": self.phase, "tokens": self.tokens,
                 "flops": self.flops, "train_loss": train_loss, "val_loss": self.evaluate(),
                 "lr": self.config.lr_at(self.phase_step),
                 "wall_s": time.perf_counter() - self.started}
        self.record.history.append(entry)
        if self.out_dir is not None:
            # Written after every evaluation: a crash or kill loses at most one interval.
            self.record.save(self.out_dir / f"{self.record.name}.json")
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
            x, y = self.data.batch("train", cfg.batch_size, self.block_size, self.batch_gen)
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            with self.autocast:
                _, loss = self.forward(x, y)
            if not torch.isfinite(loss):
                self._checkpoint("diverged")
                raise FloatingPointError(
                    f"{self.record.name}: loss became {loss.item()} at step {self.step} "
                    f"(lr={lr:.2e}): lower the learning rate or raise warmup. The record so far "
                    "is kept" + (f" in {self.out_dir}." if self.out_dir else "."))
            self.optimizer.zero_grad(set_to_none=True)
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
                self.scaler.unscale_(self.optimizer)
            else:
                loss.backward()
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            if self.scaler is not None:
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                self.optimizer.step()
            self._recent_losses.append(loss.item())
            self.phase_step += 1
            self.step += 1
            self.tokens += cfg.batch_size * self.block_size
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
            save_checkpoint(self.out_dir / f"{self.record.name}.{tag}.pt", self.model,
                            step=self.step, tokens=self.tokens, flops=self.flops)

    # ---- growth ------------------------------------------------------------------------
    def grow(self, op: str, *, config: TrainConfig, dim: str = "depth", factor: float = 2,
             fresh_optimizer: bool = True, **options: Any) -> nn.Module:
        """Grow the current model and start a new phase that trains it under `config`.

        fresh_optimizer=True (the default, as the paper) starts AdamW from zero moments;
        False carries the moments of every parameter that was copied from the small model.
        Whether the schedule restarts is in `config` (schedule_offset / schedule_steps).
        """
        old = self.model
        if resolve(op, dim).name == "learn":
            # The learned map trains on this run's data; its compute joins the ledger below.
            options = {"data": self.data, "batch_size": self.config.batch_size, **options}
        growth = grow_with_sources(old, op, dim=dim, factor=factor, **options)
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
            "op": op, "dim": dim, "factor": factor, "options": json_safe(options),
            "info": growth.info,
            "fresh_optimizer": fresh_optimizer,
            "claims_preservation": claims_preservation(op, dim),
            "preservation": preservation,
            "params_before": unwrap(old).n_params(), "params_after": growth.model.n_params(),
        })
        self._start_phase(growth.model, config, optimizer_state=carried)
        return self.model


def json_safe(options: dict[str, Any]) -> dict[str, Any]:
    """Options as a record can hold them: a dataset by its name, other objects by repr."""
    safe = {}
    for key, value in options.items():
        if value is None or isinstance(value, (bool, int, float, str, list, tuple)):
            safe[key] = value
        else:
            safe[key] = getattr(value, "name", repr(value))
    return safe


def train(model: nn.Module, data: TextCorpus, config: TrainConfig, **kwargs: Any) -> Record:
    """Train `model` in place for `config.steps` steps and return its run record."""
    return Trainer(model, data, config, **kwargs).fit().record

