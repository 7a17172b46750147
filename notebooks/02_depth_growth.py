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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/YOUR_GITHUB_USER/growkit/blob/v0.1.0/notebooks/02_depth_growth.ipynb)
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
# About 16.0 minutes on 2 CPU cores at the `cpu` preset after `00` (measured: [the README's notebook table](https://github.com/YOUR_GITHUB_USER/growkit/blob/v0.1.0/README.md#notebooks); 11 runs, some cached by `00`).
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
RESULTS_DIR = "."  # where this notebook saves its key numbers (results_02.json)
ABLATION = True  # also stacking vs interpolation vs partial stacking

# %%
from growkit import Study, course, plots

study = Study.from_preset(PRESET, seed=SEED, progress=PROGRESS, cache_dir=RUNS_DIR, **OVERRIDES)
cfg = study.cfg
course.begin(study.preset, study.describe(WORKERS))

# %%
variants = study.operators("depth", cfg.factor)
rows = study.run(variants, workers=WORKERS)
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
# With a small model of two or more blocks the layer order matters: `[0,1,0,1]` (stack), `[0,0,1,1]` (interpolate), or repeating only the bottom, middle or top part. These grow ×2, from 2 blocks to 4.
#
# A ×2 comparison needs its own budget. At the `cpu` preset's (40 tokens per parameter) the 2-block model trained alone on the same FLOPs **beats** the 4-block target trained from scratch (1.2352 against 1.2617 at seed 0; 1.2313 ± 0.0036 against 1.2701 ± 0.0090 over seeds 0–2): the bigger model does not deserve its size yet, and a speedup over it would say nothing about growth. Small models buy more tokens with the same FLOPs, and at this size tokens are what a model lacks. So at `cpu` this section runs at `cpu-x2` (`growkit.study.x2_preset`): a narrower target (4L×32) at 160 tokens per parameter, about the same FLOPs, where the 4-block target beats the 2-block model alone on every seed ([*Regimes*](https://github.com/YOUR_GITHUB_USER/growkit/blob/v0.1.0/docs/results.md#regimes-where-each-lessons-comparison-means-something-issue-15) in the results has the measurements).

# %%
from growkit.study import x2_preset

x2 = Study.from_preset(x2_preset(PRESET), seed=SEED, progress=PROGRESS, cache_dir=RUNS_DIR, **OVERRIDES)
if ABLATION:
    print(x2.describe(WORKERS))
ablation_rows = x2.run(x2.stacking_ablation(), workers=WORKERS) if ABLATION else []
if ablation_rows:
    fig = plots.plot_speedups(ablation_rows, paper=False, title="layer order at one factor")
    print(x2.table(ablation_rows))

# %% [markdown]
# **Measured at `cpu-x2` over three seeds** (one thread per run; [*Regimes* in the results](https://github.com/YOUR_GITHUB_USER/growkit/blob/v0.1.0/docs/results.md#regimes-where-each-lessons-comparison-means-something-issue-15)): the 4-block target from scratch 1.2480 ± 0.0029 beats the 2-block model alone, 1.2655 ± 0.0080 (narrowly: by 0.0175 against twice the larger spread, 0.016). Every layer order beats both on every seed: stack +23.7%, interpolate +21.9%, partial-bottom +18.9%, partial-top +25.5% (means of the FLOPs speedups). The paper's finding that whole-model stacking beats the other orders does **not** reproduce at this size: the orders are within the seeds' spread of one another. With two blocks the orders differ only in which block sits where, and a 2-block model's blocks are not yet specialised enough for their position to matter much; what matters is that the grown model starts from trained blocks and trained embeddings.

# %%
from growkit.record import write_json
from growkit.speedup import pct

verdict = course.words(
    "Depth operators, speedup over scratch in FLOPs: "
    + ", ".join(f"{r.name} {pct(r.speedup_flops, 1, r.reached_before_growth)}" for r in rows) + ". "
    + study.verdict(rows[0])
    + ("" if not ablation_rows else " Layer order at one factor: "
       + ", ".join(f"{r.name} {pct(r.speedup_flops, 1, r.reached_before_growth)}" for r in ablation_rows)
       + ("" if x2.scratch.final_val_loss < ablation_rows[0].small_val_loss else
          f" (but {ablation_rows[0].small} beats the target trained from scratch: at this budget these say "
          "nothing about growth)") + "."),
    study.preset)
print(verdict)

# %%
results = study.summary()
results["verdict"] = {"text": verdict}
results["operators"] = {r.op: r.to_dict() for r in rows}
results["ablation"] = {r.options.get("order", "stack"): r.to_dict() for r in ablation_rows}
results["ablation_preset"] = x2.preset
print("wrote", write_json(f"{RESULTS_DIR}/results_02.json", results))
