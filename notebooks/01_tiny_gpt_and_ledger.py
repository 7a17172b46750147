# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/YOUR_GITHUB_USER/growkit/blob/v0.1.0/notebooks/01_tiny_gpt_and_ledger.ipynb)
#
# # The tiny GPT and its compute ledger
#
# Every comparison in this course is on **FLOPs**, so first: where a GPT's FLOPs go, how growkit counts them (checked against PyTorch's own counter), and what a bigger model buys for the same compute. The GPT is LLaMA-style (RMSNorm, rotary positions, SwiGLU), in one file: [`growkit/gpt.py`](https://github.com/YOUR_GITHUB_USER/growkit/blob/v0.1.0/growkit/gpt.py).
#
# About 1.8 minutes on 2 CPU cores at the `cpu` preset after `00` (measured: [the README's notebook table](https://github.com/YOUR_GITHUB_USER/growkit/blob/v0.1.0/README.md#notebooks); three models on one budget, two of them cached by `00`).
#
# Presets: `cpu` (2 CPU cores), `gpu` (one GPU, a wider 8-block target), `t4` (Colab's free T4). `smoke` shrinks everything to seconds for the regression tests; its numbers mean nothing. Finished runs are cached in `RUNS_DIR`, so a notebook run twice (or a later notebook needing the same scratch run) trains nothing again. Words such as *tok/param*, *Δloss@growth* or *1L×48* are defined in the [glossary](https://github.com/YOUR_GITHUB_USER/growkit/blob/v0.1.0/docs/glossary.md).

# %% cellView="form" jupyter={"source_hidden": true}
# @title Install growkit (Colab only; elsewhere this cell does nothing)
# Installs growkit 0.1.0, the release this notebook belongs to; in a clone (`make lab`) it is
# installed already and this cell does nothing. Your fork or an uploaded wheel instead: set GROWKIT
# to "git+https://github.com/<you>/growkit@v0.1.0"
# or "/content/growkit-0.1.0-py3-none-any.whl". Written by tools/colab.py.
import sys

GROWKIT = "git+https://github.com/YOUR_GITHUB_USER/growkit@v0.1.0"  # @param {type:"string"}

if "google.colab" in sys.modules:
    import importlib.metadata
    import re
    import subprocess

    class InstallFailed(Exception):
        def _render_traceback_(self):  # IPython shows this paragraph, not a traceback
            return [str(self)]

    try:
        installed = importlib.metadata.version("growkit")
    except importlib.metadata.PackageNotFoundError:
        installed = None
    if installed != "0.1.0":
        if "YOUR_GITHUB_USER" in GROWKIT:
            tried = ("nothing: this copy of the course does not name its repository yet (pyproject.toml's "
                     "[project.urls] Repository is still the placeholder YOUR_GITHUB_USER)")
        else:
            pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", GROWKIT],
                                 capture_output=True, text=True)
            # git's and pip's own error lines, not pip's "This error originates from a subprocess".
            said = [line.strip() for line in pip.stderr.splitlines()
                    if re.match(r"\s*(fatal|ERROR|error):", line) and "subprocess-exited" not in line]
            said = said or [line.strip() for line in pip.stderr.splitlines() if line.strip()][-1:]
            tried = None if pip.returncode == 0 else f"pip install {GROWKIT}, which failed: {' '.join(said)}"
        if tried:
            raise InstallFailed(
                f"growkit 0.1.0 is not installed, so the notebook stops here. Tried: {tried}. To fix it, "
                "set GROWKIT at the top of this cell to where your copy of growkit lives and run the cell again: "
                "your fork on GitHub ('git+https://github.com/<you>/growkit@v0.1.0', after pushing the tag "
                "v0.1.0), or a wheel built with `python -m build` and uploaded through Colab's Files panel "
                "('/content/growkit-0.1.0-py3-none-any.whl'). The course's docs/gpu_and_colab.md, "
                "'Running on Colab', has the details.")

# %% tags=["parameters"]
# Settings: change one, then run the whole notebook again (Run > Run All Cells).
PRESET = "auto"  # the size of everything: "auto" picks from your hardware; "cpu" (2 CPU cores), "gpu" (one
#                  GPU), "t4" (Colab's free GPU); "smoke" shrinks it to seconds (a check that it runs, no results)
OVERRIDES = {}  # any growkit.study.StudyConfig field, e.g. {"tokens_per_param": 20} for a smaller, quicker budget
SEED = 0  # another seed, another random start: how much do the numbers move?
PROGRESS = True  # a progress line while a run trains
RUNS_DIR = "runs/course"  # finished runs are kept here and reused by every notebook; None: keep nothing
RESULTS_DIR = "."  # where this notebook saves its key numbers (results_01.json)

# %%
from growkit import Study, course, plots

study = Study.from_preset(PRESET, seed=SEED, progress=PROGRESS, cache_dir=RUNS_DIR, **OVERRIDES)
cfg = study.cfg
course.begin(study.preset, study.describe())

# %% [markdown]
# ## FLOPs per token
#
# Training costs about 6 FLOPs per weight per token (2 forward, 4 backward) for every weight in a matrix multiply, plus the attention scores (QK<sup>T</sup> and AV), which grow with the sequence length T: `flops_per_token = 6 N_matmul + 12 L d T`. Embedding lookups and norms do no matmuls.

# %%
import dataclasses

target = study.target
# The ladder: models of the target's width at 1/4, 1/2 and all of its depth (those that exist).
ladder = [dataclasses.replace(target, n_layer=target.n_layer // g) for g in (4, 2, 1) if target.n_layer % g == 0]

# The target's training FLOPs per token, by part: the terms GPT.flops_per_token adds up.
L, d, T = target.n_layer, target.n_embd, cfg.block_size
parts = {
    "attention projections (q, k, v, o)": 6 * L * 4 * d * d,
    "MLP (SwiGLU gate, up, down)": 6 * L * 3 * d * target.mlp_hidden,
    "output head": 6 * d * target.vocab_size,
    "attention scores (QK^T, AV)": 12 * L * d * T,
}
parts["total"] = sum(parts.values())
for part, flops in parts.items():
    print(f"{part:<38} {flops:>14,.0f}  {flops / parts['total']:6.1%}")

# %% [markdown]
# PyTorch can count the FLOPs itself: `FlopCounterMode` sees every matrix multiply of one forward and backward pass. Attention goes through the plain "math" backend here, whose matmuls the counter can see (fused attention kernels hide theirs).

# %%
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from growkit import GPT
from growkit.study import model_name


def counted_flops_per_token(model_cfg, batch=2):
    model = GPT(model_cfg)
    x = torch.randint(model_cfg.vocab_size, (batch, model_cfg.block_size))
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        _, loss = model(x, x)
        loss.backward()
    return counter.get_total_flops() / x.numel()


ledger = []
for m in ladder:
    formula = GPT(m).flops_per_token(cfg.block_size)
    counted = counted_flops_per_token(m)
    ledger.append({"model": model_name(m), "params": GPT(m).n_params(), "formula": formula,
                   "counted": counted, "ratio": formula / counted})
    print(f"{model_name(m):>8}: {GPT(m).n_params():>9,} params  formula {formula:>12,.0f}  "
          f"counted {counted:>12,.0f}  ratio {formula / counted:.4f}")

# %% [markdown]
# ## What a bigger model buys
#
# The same FLOPs budget buys a small model many more tokens than a big one. Below, each model of the ladder trains alone on the whole budget (each with its own learning rate). Early on the small models lead; the bigger one gets ahead only once it has seen enough tokens per parameter.

# %%
records = [study.train_alone(m) for m in ladder]
fig = plots.plot_records(records, title="one FLOPs budget, three depths", references=False)

# %% [markdown]
# Where does the bigger model get ahead for good? Take each curve's running minimum (the best loss so far), read the smaller model's curve at the bigger one's evaluations (interpolated on log FLOPs), and find the last point where the bigger one is still behind.

# %%
import numpy as np


def crossover_flops(smaller, bigger):
    """The compute after which `bigger` keeps a lower validation loss than `smaller`; None if
    it is not ahead at the end."""
    def curve(rec):
        points = [(h["flops"], h["val_loss"]) for h in rec.history if h["flops"] > 0]
        return np.log10([f for f, _ in points]), np.minimum.accumulate([loss for _, loss in points])

    xs, ys = curve(smaller)
    xb, yb = curve(bigger)
    ahead = yb < np.interp(xb, xs, ys)
    if not ahead[-1]:
        return None
    behind = np.nonzero(~ahead)[0]
    first = 0 if len(behind) == 0 else behind[-1] + 1
    return float(10 ** xb[first])


crossovers = []
for smaller, bigger in zip(records, records[1:]):
    at = crossover_flops(smaller, bigger)
    crossovers.append({"smaller": smaller.name, "bigger": bigger.name, "flops": at,
                       "share_of_budget": None if at is None else at / study.budget_flops})
    when = ("never, on this budget" if at is None
            else f"after {at:.3g} FLOPs ({at / study.budget_flops:.0%} of the budget)")
    crossovers[-1]["text"] = f"{bigger.name} gets ahead of {smaller.name} for good: {when}."
    print(crossovers[-1]["text"])

# %% [markdown]
# ## The ledger
#
# Each run's record holds its history: step, tokens, cumulative FLOPs, losses. Every run spends the same budget (to within one step):

# %%
for rec in records:
    print(f"{rec.name:<14} steps {rec.final['step']:>6}  tokens {rec.total_tokens:>12,.0f}  "
          f"FLOPs {rec.total_flops:.4g} ({rec.total_flops / study.budget_flops:.3f} of the budget)  "
          f"{rec.tokens_per_param:6.0f} tokens/param  final val loss {rec.final_val_loss:.4f}")

# %%
from growkit.record import write_json
from growkit.study import run_numbers

best_run = min(records, key=lambda r: r.final_val_loss)
verdict = course.words(
    f"On one budget of {study.budget_flops:.3g} FLOPs the lowest final loss is {best_run.name}'s "
    f"({best_run.final_val_loss:.4f} nats/char, {best_run.tokens_per_param:.0f} tok/param). "
    + " ".join(c["text"] for c in crossovers)
    + f" The FLOPs formula matches PyTorch's counter to within {max(abs(m['ratio'] - 1) for m in ledger):.1%}.",
    study.preset)
print(verdict)
results = {"preset": study.preset, "budget_flops": study.budget_flops, "flops_per_token": ledger,
           "breakdown": parts, "runs": [run_numbers(r) for r in records], "crossovers": crossovers,
           "verdict": {"text": verdict}}
print("wrote", write_json(f"{RESULTS_DIR}/results_01.json", results))
