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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/growkit/growkit/blob/main/notebooks/06_explorer.ipynb)
#
# # Explorer: grow it yourself
#
# Pick an operator, a direction, a factor and a growth point, press **train and overlay**, and watch the run's loss-versus-FLOPs curve appear over the earlier ones, beside the scratch run and the small model alone (the first press trains those two, once). The readout gives each run's speedup and tokens per parameter.
#
# On a CPU each run takes minutes at the `cpu` preset. For snappier exploration lower the budget, e.g. `OVERRIDES = {"tokens_per_param": 20}`, and watch the small-model-alone reference: at a few tokens per parameter the target stops deserving its size.
#
# Headless (papermill, `WIDGETS = False`) the notebook trains the runs in `RUNS` instead and shows the same plot and table: widgets would wait for a person forever.
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
WIDGETS = True  # False: no widgets; train RUNS and show the result (headless runs)
RUNS = [{"op": "stack", "dim": "depth", "factor": 4}, {"op": "zero", "dim": "width", "factor": 2}]

# %%
from growkit import Study

study = Study.from_preset(PRESET, seed=SEED, progress=PROGRESS, cache_dir=RUNS_DIR, **OVERRIDES)
cfg = study.cfg
print(study.describe())

# %%
from IPython.display import display

from growkit.explorer import Explorer

explorer = Explorer(study)
if WIDGETS:
    display(explorer.widget())
else:
    for run in RUNS:
        explorer.run(**run)
    fig = explorer.figure()
    print(explorer.table())

# %% [markdown]
# Run the next cell whenever you want to keep what you have explored so far.

# %%
from growkit.record import write_json

results = study.summary()
results["explored"] = [row.to_dict() for row in explorer.rows()]
print("wrote", write_json(f"{RESULTS_DIR}/results_06.json", results))
