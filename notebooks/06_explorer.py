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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/YOUR_GITHUB_USER/growkit/blob/v0.1.0/notebooks/06_explorer.ipynb)
#
# # Explorer: grow it yourself
#
# Pick an operator, a direction, a factor and a growth point, press **train and overlay**, and watch the run's loss-versus-FLOPs curve appear over the earlier ones, beside the scratch run and the small model alone (the first press trains those two, once). The readout gives each run's speedup and tokens per parameter.
#
# Runs already finished (by `00` and `02`, or by an earlier session) are read from `RUNS_DIR` and shown at once. On a CPU a new run takes about 2 minutes at the `cpu` preset (measured: [the README's notebook table](https://github.com/YOUR_GITHUB_USER/growkit/blob/v0.1.0/README.md#notebooks)). For snappier exploration lower the budget, e.g. `OVERRIDES = {"tokens_per_param": 20}`, and watch the small-model-alone reference: at a few tokens per parameter the target stops deserving its size.
#
# Headless (papermill, `WIDGETS = False`) the notebook trains the runs in `RUNS` instead and shows the same plot and table: widgets would wait for a person forever.
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
RESULTS_DIR = "."  # where this notebook saves its key numbers (results_06.json)
WIDGETS = True  # True: buttons to explore with; False: no buttons, train RUNS and show them
RUNS = [{"op": "stack", "dim": "depth", "factor": 4}, {"op": "zero", "dim": "depth", "factor": 4}]  # shown at
#       start when already finished (00 and 02 train both), or trained (without widgets)

# %%
from growkit import Study, course

study = Study.from_preset(PRESET, seed=SEED, progress=PROGRESS, cache_dir=RUNS_DIR, **OVERRIDES)
cfg = study.cfg
course.begin(study.preset, study.describe())

# %%
from IPython.display import display

from growkit.explorer import Explorer

explorer = Explorer(study)
if WIDGETS:
    explorer.show_cached(RUNS)  # finished runs from RUNS_DIR, shown at once (nothing trains)
    display(explorer.widget())
else:
    for run in RUNS:
        explorer.run(**run)
    fig = explorer.figure()
    print(explorer.table())

# %% [markdown]
# ## Your own operator
#
# An operator is a function from the trained small model to a new, bigger one. Write one, register it under a name, and the explorer offers it beside the paper's (so do `grow`, a `Study` and the command line): how and what it must do is in [docs/your_operator.md](https://github.com/YOUR_GITHUB_USER/growkit/blob/v0.1.0/docs/your_operator.md). This one is G_stack with a twist: every copy past the first is nudged by a little noise, so the copies start apart instead of identical. Does that help, or hurt?
#
# Two things to know. It trains here, in this notebook's process: a function written in a cell cannot be sent to the worker processes other notebooks train in (`workers=1`). And a finished run is kept in `RUNS_DIR` under its name: after changing the function, change its name too, or you will see the old run.

# %%
import torch

from growkit import GPT
from growkit.grow import Growth, register
from growkit.grow.depth import from_layers


@register("noisy_stack", "depth", GPT, label="G_noisy", preserves_function=False, replace=True)
def noisy_stack(small: GPT, *, factor: int, noise: float = 0.05, seed: int = 0) -> Growth:
    """G_stack, then every block past the first copy of the stack perturbed by Gaussian noise
    of `noise` times each weight's own spread (replace=True: running this cell again is fine)."""
    L = small.config.n_layer
    growth = from_layers(small, list(range(L)) * factor)  # the whole stack, `factor` times
    draw = torch.Generator().manual_seed(seed)  # its own random numbers: the same run every time
    with torch.no_grad():
        for block in growth.model.blocks[L:]:
            for weight in block.parameters():
                if weight.dim() > 1:  # matrices only: the norms' gains stay 1
                    jitter = torch.randn(weight.shape, generator=draw).to(weight)
                    weight.add_(noise * weight.std() * jitter)
    return growth


explorer.run("noisy_stack", "depth", cfg.factor)  # trains it (its small model alone is 00's)
if WIDGETS:
    display(explorer.widget())  # the controls again: G_noisy is among the operators now
else:
    fig = explorer.figure()
print(explorer.table())

# %% [markdown]
# Run the next cell whenever you want to keep what you have explored so far.

# %%
from growkit.record import write_json
from growkit.speedup import pct

rows = explorer.rows()
verdict = course.words("Explored: " + (", ".join(f"{r.name} {pct(r.speedup_flops, 1, r.reached_before_growth)}"
                                                 for r in rows) if rows else "nothing yet") + ". "
                       + (study.verdict(rows[0]) if rows else ""), study.preset)
print(verdict)
results = study.summary()
results["verdict"] = {"text": verdict}
results["explored"] = [row.to_dict() for row in rows]
print("wrote", write_json(f"{RESULTS_DIR}/results_06.json", results))
