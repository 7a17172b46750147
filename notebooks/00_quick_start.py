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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/YOUR_GITHUB_USER/growkit/blob/v0.1.0/notebooks/00_quick_start.ipynb)
#
# # Quick start: grow a tiny GPT
#
# **Model growth** trains a small network first, then grows it into the big one you wanted and trains on, so that the big model reaches its loss with less compute than training it from scratch. Here a 1-block GPT is trained for a small share of a FLOPs budget (5% at the `cpu` preset), stacked four times (G_stack, from *Stacking Your Transformers*, Du et al. 2024), and trained on for the rest; it is compared with the 4-block target trained from scratch on the same budget, **and with the small model trained alone on that budget**: growth only pays if it beats both.
#
# About 5.6 minutes on 2 CPU cores at the `cpu` preset (measured: [the README's notebook table](https://github.com/YOUR_GITHUB_USER/growkit/blob/v0.1.0/README.md#notebooks)), for three runs: those of `python -m growkit compare`.
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
WORKERS = "auto"  # runs trained at once: "auto" is one process per CPU core at one thread each (faster, and the
#                   same numbers on any CPU; 1 on a GPU); 1 trains them here, one after another, with a progress line
RUNS_DIR = "runs/course"  # finished runs are kept here and reused by every notebook; None: keep nothing
RESULTS_DIR = "."  # where this notebook saves its key numbers (results_00.json)

# %%
from growkit import Study, Variant, course, plots

study = Study.from_preset(PRESET, seed=SEED, progress=PROGRESS, cache_dir=RUNS_DIR, **OVERRIDES)
cfg = study.cfg
course.begin(study.preset, study.describe(WORKERS))

# %% [markdown]
# ## Growth in one call
#
# `grow(model, op, dim=..., factor=...)` returns a new, bigger model and leaves the small one alone. G_stack repeats the whole stack of blocks in order; G_zero adds blocks that output zero, so the grown model computes exactly the small model's function (measured below on a validation batch).

# %%
import torch

from growkit import GPT, grow, measure_preservation

torch.manual_seed(SEED)  # the same untrained small model every time this cell runs
small = GPT(cfg.model_config(cfg.small_layers, study.data.vocab_size))
big = grow(small, "stack", dim="depth", factor=cfg.factor)
print(f"small: {small.config.n_layer} block(s), {small.n_params():,} params -> "
      f"grown: {big.config.n_layer} blocks, {big.n_params():,} params")
x, y = study.data.batch("val", 8, cfg.block_size, torch.Generator().manual_seed(0))
for op in ["stack", "zero"]:
    change = measure_preservation(small, grow(small, op, dim="depth", factor=cfg.factor), x, y)
    print(f"G_{op:<5} largest change of any logit {change['max_abs_logits']:.1e}, "
          f"loss {change['loss_before']:.4f} -> {change['loss_after']:.4f} nats/char")

# %% [markdown]
# ## Three runs, one FLOPs budget
#
# `scratch` is the target from random initialisation; the grown run is the small model for a small share of the budget (`cfg.grow_fraction`), grown, then the target for the rest (its FLOPs count the small model's); the small model alone gets the whole budget. The budget is set so the target sees 40 tokens per parameter (the paper's runs sit at 40-90). `python -m growkit compare --preset cpu` trains the same three runs from a terminal.

# %%
stack = Variant(cfg.op, "depth", cfg.factor)
row = study.run([stack], workers=WORKERS)[0]

# %%
fig = plots.plot_study(study, [stack], title="validation loss against compute")

# %% [markdown]
# **Speedup** = the FLOPs scratch needs to reach its own final loss, divided by what the grown run needs to reach it (small model included), minus one. Read each run's tokens per parameter too: at a few tokens per parameter a big target loses to the small model alone, and any speedup over scratch is meaningless.

# %% [markdown]
# ## Words used in this course
#
# The same words on every page of the course (notebooks, explorer, `make demo`'s summary page, the [glossary](https://github.com/YOUR_GITHUB_USER/growkit/blob/v0.1.0/docs/glossary.md)):
#
# - **nats/char**: the loss, cross-entropy per character in natural-log units; lower is better (guessing uniformly among the 68 characters of the King James Bible scores ln 68 ≈ 4.2; the `cpu` preset's models end near 1.2).
# - **1L×48**: a model's shape, 1 block (layer) of width 48; `4L×48 alone` is that model trained alone on the whole budget.
# - **stack↑×4**: a grown run, operator G_stack, ↑ grown in depth (→ in width), by a factor of 4; `@25%` is added when it grows at a share of the budget other than the preset's.
# - **scratch**: the target model trained from random initialisation on the whole budget.
# - **small alone**: the small model trained alone on the whole budget; growth has to beat it too.
# - **tok/param**: tokens of text a run trained on, per parameter of its final model (the paper's runs use 40-90).
# - **speedup**: FLOPs scratch needs to reach its final loss, divided by what the run needs, minus 1; **never**: the run never got there.
# - **\***: a speedup the small phase earned alone, before growth: not growth's doing.
# - **Δloss@growth**: how much the loss changed at the moment of growth (0 for an operator that preserves the function).
#
# The operators' names (G_stack, G_zero, G_random, G_learn, G_direct), LiGO, Net2Wider, WRN, μP and every other word the course uses are in the [glossary](https://github.com/YOUR_GITHUB_USER/growkit/blob/v0.1.0/docs/glossary.md).

# %%
print(study.table([row]))
print()
verdict = course.words(study.verdict(row), study.preset)
print(verdict)

# %% [markdown]
# The headline in a few numbers: the speedup, and whether the target, and the grown run, beat the small model alone.

# %%
from growkit.speedup import pct

headline = {"speedup_flops": row.speedup_flops, "speedup_tokens": row.speedup_tokens, "reason": row.reason,
            "target_beats_small": study.scratch.final_val_loss < row.small_val_loss,
            "grown_beats_small": row.beats_small, "grown_beats_scratch": row.beats_scratch}
def beats(yes):
    return "beats" if yes else "does not beat"


print(course.words(
    f"speedup over scratch: {pct(row.speedup_flops, 1, row.reached_before_growth)} in FLOPs, "
    f"{pct(row.speedup_tokens, 1)} in tokens. The target {beats(headline['target_beats_small'])} the small "
    f"model alone; the grown run {beats(row.beats_small)} it and {beats(row.beats_scratch)} scratch.", study.preset))

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

results = {**study.summary(), "headline": headline, "verdict": {"text": verdict}}
print("wrote", write_json(f"{RESULTS_DIR}/results_00.json", results))

# %% [markdown]
# Next: `01` looks inside the compute ledger, `02` and `03` try all four growth operators in depth and in width, `04` asks when and how much to grow, `05` grows a CNN with MixtureGrowth, `06` lets you explore with widgets.
