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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/growkit/growkit/blob/main/notebooks/00_quick_start.ipynb)
#
# # Quick start: grow a tiny GPT
#
# **Model growth** trains a small network first, then grows it into the big one you wanted and trains on, so that the big model reaches its loss with less compute than training it from scratch. Here a 1-block GPT is trained for a small share of a FLOPs budget (5% at the `cpu` preset), stacked four times (G_stack, from *Stacking Your Transformers*, Du et al. 2024), and trained on for the rest; it is compared with the 4-block target trained from scratch on the same budget, **and with the small model trained alone on that budget**: growth only pays if it beats both.
#
# About 7 minutes on 2 CPU cores at the `cpu` preset (the three runs of `python -m growkit compare` on half its budget).
#
# Presets: `cpu` (2 CPU cores), `gpu` (one GPU, a wider 8-block target), `t4` (Colab's free T4). `smoke` shrinks everything to seconds for the regression tests; its numbers mean nothing. Finished runs are cached in `RUNS_DIR`, so a notebook run twice (or a later notebook needing the same scratch run) trains nothing again.

# %%
# On Colab, install growkit first (elsewhere it is already there: `make lab`).
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "growkit @ git+https://github.com/growkit/growkit"], check=True)

# %% tags=["parameters"]
# Parameters: papermill overrides these (it adds a cell after this one).
PRESET = "auto"  # "cpu", "gpu" (one GPU), "t4" (Colab's free GPU) or "auto" (from the hardware);
#                  "smoke": seconds on a CPU, for the regression tests (the numbers mean nothing)
OVERRIDES = {}  # any growkit.study.StudyConfig field, e.g. {"tokens_per_param": 40}
SEED = 0
PROGRESS = True  # one updating progress bar per run
RUNS_DIR = "runs/course"  # finished runs are cached here, shared by the notebooks; None: always train
RESULTS_DIR = "."  # where this notebook writes its key numbers (results_NN.json)

# %%
from growkit import Study, Variant, plots

study = Study.from_preset(PRESET, seed=SEED, progress=PROGRESS, cache_dir=RUNS_DIR, **OVERRIDES)
cfg = study.cfg
print(study.describe())

# %% [markdown]
# ## Growth in one call
#
# `grow(model, op, dim=..., factor=...)` returns a new, bigger model and leaves the small one alone. G_stack repeats the whole stack of blocks in order; G_zero adds blocks that output zero, so the grown model computes exactly the small model's function (measured below on a validation batch).

# %%
import torch

from growkit import GPT, grow, measure_preservation

small = GPT(cfg.model_config(cfg.small_layers, study.data.vocab_size))
big = grow(small, "stack", dim="depth", factor=cfg.factor)
print(f"small: {small.config.n_layer} block(s), {small.n_params():,} params -> "
      f"grown: {big.config.n_layer} blocks, {big.n_params():,} params")
x, y = study.data.batch("val", 8, cfg.block_size, torch.Generator().manual_seed(0))
for op in ["stack", "zero"]:
    print(f"{op:>5}:", measure_preservation(small, grow(small, op, dim="depth", factor=cfg.factor), x, y))

# %% [markdown]
# ## Three runs, one FLOPs budget
#
# `scratch` is the target from random initialisation; the grown run is the small model for a small share of the budget (`cfg.grow_fraction`), grown, then the target for the rest (its FLOPs count the small model's); the small model alone gets the whole budget. The budget is set so the target sees 40 tokens per parameter (the paper's runs sit at 40-90). `python -m growkit compare --preset cpu` trains the same three runs from a terminal.

# %%
stack = Variant(cfg.op, "depth", cfg.factor)
row = study.run([stack])[0]

# %%
fig = plots.plot_study(study, [stack], title="validation loss against compute")

# %% [markdown]
# **Speedup** = the FLOPs scratch needs to reach its own final loss, divided by what the grown run needs to reach it (small model included), minus one. Read each run's tokens per parameter too: at a few tokens per parameter a big target loses to the small model alone, and any speedup over scratch is meaningless.

# %%
print(study.table([row]))
print()
print(study.verdict(row))

# %% [markdown]
# The headline in a few numbers: the speedup, and whether the target, and the grown run, beat the small model alone.

# %%
headline = {"speedup_flops": row.speedup_flops, "speedup_tokens": row.speedup_tokens, "reason": row.reason,
            "target_beats_small": study.scratch.final_val_loss < row.small_val_loss,
            "grown_beats_small": row.beats_small, "grown_beats_scratch": row.beats_scratch}
for key, value in headline.items():
    print(f"{key:<20} {value}")

# %% [markdown]
# ## What the grown model writes
#
# The grown run's final weights are its last checkpoint in `RUNS_DIR`. A few hundred characters sampled from it (a character-level model of the King James Bible; at the `smoke` preset it has barely trained):

# %%
grown_model = study.model(stack)
if grown_model is None:
    print("no checkpoint: RUNS_DIR is None")
else:
    prompt = study.data.encode("And God said").unsqueeze(0)
    with torch.no_grad():
        text = grown_model.eval().generate(prompt, 300, temperature=0.8,
                                           generator=torch.Generator().manual_seed(SEED))
    print(study.data.decode(text[0]))

# %%
from growkit.record import write_json

results = {**study.summary(), "headline": headline}
print("wrote", write_json(f"{RESULTS_DIR}/results_00.json", results))

# %% [markdown]
# Next: `01` looks inside the compute ledger, `02` and `03` try all four growth operators in depth and in width, `04` asks when and how much to grow, `06` lets you explore with widgets.
