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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/growkit/growkit/blob/main/notebooks/03_width_growth.ipynb)
#
# # Width growth: the four operators →
#
# Growing in width: `n_embd`, the heads and the MLP hidden units all grow by the factor (head size kept), from a model of the target's depth at 1/g of its width, which has about 1/g² of its block parameters (at g = 2 about the depth operators' 1/4).
#
# - **G_direct**: every unit duplicated and its outgoing weights split among the copies (Net2WiderNet); exactly preserving.
# - **G_zero**: new units with zero outgoing weights, exactly preserving (with RMSNorm rescaled; see `growkit/grow/width.py`).
# - **G_random**: new weights freshly initialised.
# - **G_learn**: LiGO's learned width expansion, trained briefly.
#
# In the paper every width operator lost to scratch (G_direct −0.7%, G_zero −18%, G_random −14%, G_learn −15%) while depth stacking won. Does width lose here too?
#
# About 15 minutes on 2 CPU cores at the `cpu` preset (fewer with cached runs from `02`).
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
WIDTH_FACTOR = 2  # must divide the target's heads

# %%
from growkit import Study, Variant, plots

study = Study.from_preset(PRESET, seed=SEED, progress=PROGRESS, cache_dir=RUNS_DIR, **OVERRIDES)
cfg = study.cfg
print(study.describe())

# %%
variants = study.operators("width", WIDTH_FACTOR)
depth_stack = Variant("stack", "depth", cfg.factor)  # the depth winner, for reference
rows = study.run(variants + [depth_stack])
width_rows, stack_row = rows[:-1], rows[-1]
fig = plots.plot_study(study, variants, title="width growth: the four operators")

# %%
fig = plots.plot_speedups(rows, title="width operators and depth G_stack (diamonds: the paper)")
print(study.table(rows))

# %%
print(study.preservation_table(width_rows))

# %% [markdown]
# ## Does width lose here too?
#
# The paper's two findings, asked of these runs: does any width operator end below scratch's final loss, and does the best of them (the largest speedup among those that reached scratch's loss) lose to depth G_stack?

# %%
from growkit.speedup import pct
from growkit.study import best

top = best(width_rows)
beats_scratch = any(r.beats_scratch for r in width_rows)
loses = top is None or (stack_row.speedup_flops is not None and top.speedup_flops < stack_row.speedup_flops)
answer = {
    "best_width": None if top is None else top.name, "width_beats_scratch": beats_scratch,
    "width_loses_to_depth": loses,
    "text": (f"Best width operator: {'none reached scratch' if top is None else top.name} "
             f"({pct(None if top is None else top.speedup_flops)}); depth {stack_row.name}: "
             f"{pct(stack_row.speedup_flops)}. Width growth {'beats' if beats_scratch else 'does not beat'} "
             f"scratch's final loss and {'loses' if loses else 'does NOT lose'} to depth growth"
             f"{' (as in the paper).' if loses and not beats_scratch else '.'}"),
}
print(answer["text"])

# %%
from growkit.record import write_json

results = study.summary()
results["operators"] = {r.op: r.to_dict() for r in width_rows}
results["depth_stack"] = stack_row.to_dict()
results["width"] = answer
print("wrote", write_json(f"{RESULTS_DIR}/results_03.json", results))
