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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/growkit/growkit/blob/main/notebooks/02_depth_growth.ipynb)
#
# # Depth growth: the four operators ↑
#
# *Stacking Your Transformers* sorts growth methods into four atomic operators. In depth:
#
# - **G_direct = G_stack**: the trained blocks, the whole stack repeated g times.
# - **G_zero**: new blocks whose output projections are zero, so the function is preserved.
# - **G_random**: new blocks freshly initialised.
# - **G_learn** (LiGO): a learned linear map from the small blocks to the big ones, trained briefly (its compute is charged to the run).
#
# At ~1.1B parameters the paper found G_stack +49%, G_learn +49%, G_zero +47%, G_random −26%; and that stacking the whole model beats interpolation and partial stacking, and that function preservation is not what makes it work. Here: the same at tiny scale.
#
# About 25 minutes on 2 CPU cores at the `cpu` preset (11 runs; fewer with cached runs).
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
ABLATION = True  # also stacking vs interpolation vs partial stacking

# %%
from growkit import Study, plots

study = Study.from_preset(PRESET, seed=SEED, progress=PROGRESS, cache_dir=RUNS_DIR, **OVERRIDES)
cfg = study.cfg
print(study.describe())

# %%
variants = study.operators("depth", cfg.factor)
rows = study.run(variants)
fig = plots.plot_study(study, variants, title="depth growth: the four operators")

# %%
fig = plots.plot_speedups(rows, title="depth operators (diamonds: the paper)")
print(study.table(rows))

# %% [markdown]
# ## Preservation at the growth point
#
# Measured on a validation batch when the model grows: the largest change of any logit, the change in loss, and the validation loss just before and just after growth. G_zero keeps it to float precision; G_stack does not preserve, and (in the paper) still wins.

# %%
print(study.preservation_table(rows))

# %% [markdown]
# ## Stacking vs interpolation vs partial stacking
#
# With a small model of two or more blocks the layer order matters: `[0,1,0,1]` (stack), `[0,0,1,1]` (interpolate), or repeating only the bottom, middle or top part.

# %%
ablation_rows = study.run(study.stacking_ablation()) if ABLATION else []
if ablation_rows:
    fig = plots.plot_speedups(ablation_rows, paper=False, title="layer order at one factor")
    print(study.table(ablation_rows))

# %%
from growkit.record import write_json

results = study.summary()
results["operators"] = {r.op: r.to_dict() for r in rows}
results["ablation"] = {r.options["order"]: r.to_dict() for r in ablation_rows}
print("wrote", write_json(f"{RESULTS_DIR}/results_02.json", results))
