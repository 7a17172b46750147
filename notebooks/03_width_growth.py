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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/YOUR_GITHUB_USER/growkit/blob/v0.1.0/notebooks/03_width_growth.ipynb)
#
# # Width growth: the four operators →
#
# Growing in width: `n_embd`, the heads and the MLP hidden units all grow by the factor (head size kept), from a model of the target's depth at 1/g of its width, which has about 1/g² of its block parameters (at g = 2 about the depth operators' 1/4).
#
# - **G_direct**: every unit duplicated and its outgoing weights split among the copies (Net2WiderNet); exactly preserving.
# - **G_zero**: new units with zero outgoing weights, exactly preserving (with RMSNorm rescaled; see [`growkit/grow/width.py`](https://github.com/YOUR_GITHUB_USER/growkit/blob/v0.1.0/growkit/grow/width.py)).
# - **G_random**: new weights freshly initialised.
# - **G_learn**: LiGO's learned width expansion, trained briefly.
#
# In the paper every width operator lost to scratch (G_direct −0.7%, G_zero −18%, G_random −14%, G_learn −15%) while depth stacking won. Does width lose here too?
#
# A width comparison means something only where the target beats its narrow model trained alone on the same FLOPs. At the `cpu` preset's budget it does not: the 4L×24 model alone ends within the seeds' spread of the 4L×48 target (1.2773 ± 0.0020 against 1.2701 ± 0.0090), and that at half the learning rate the width rule below gives it, so at `cpu` this notebook runs at `cpu-x2` (`growkit.study.x2_preset`): a 4L×32 target from 4L×16, at 160 tokens per parameter ([*Regimes*](https://github.com/YOUR_GITHUB_USER/growkit/blob/v0.1.0/docs/results.md#regimes-where-each-lessons-comparison-means-something-issue-15) in the results has the measurements). The narrow model trains at twice the target's learning rate, by the width rule Adam's hidden layers follow under μP (`Study.lr_for`).
#
# About 10.7 minutes on 2 CPU cores at the `cpu` preset after `02` (measured: [the README's notebook table](https://github.com/YOUR_GITHUB_USER/growkit/blob/v0.1.0/README.md#notebooks); 7 runs, some cached by `02`).
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
RESULTS_DIR = "."  # where this notebook saves its key numbers (results_03.json)
WIDTH_FACTOR = 2  # must divide the target's heads

# %%
from growkit import Study, Variant, course, plots
from growkit.study import x2_preset

study = Study.from_preset(x2_preset(PRESET), seed=SEED, progress=PROGRESS, cache_dir=RUNS_DIR, **OVERRIDES)
cfg = study.cfg
course.begin(study.preset, study.describe(WORKERS))

# %%
variants = study.operators("width", WIDTH_FACTOR)
depth_stack = Variant("stack", "depth", cfg.factor)  # the depth winner, for reference
rows = study.run(variants + [depth_stack], workers=WORKERS)
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
             f"scratch's final loss and {'loses' if loses else 'does not lose'} to depth growth"
             f"{' (as in the paper).' if loses and not beats_scratch else '.'}"),
}
answer["text"] = course.words(answer["text"], study.preset)
print(answer["text"])

# %% [markdown]
# **Measured at `cpu-x2` over three seeds** (one thread per run; [*Regimes* in the results](https://github.com/YOUR_GITHUB_USER/growkit/blob/v0.1.0/docs/results.md#regimes-where-each-lessons-comparison-means-something-issue-15)): the 4L×32 target 1.2480 ± 0.0029, the 4L×16 model alone 1.3923 ± 0.0121, so here the target deserves its width. G_direct 1.4290 ± 0.0105 and G_learn 1.2694 ± 0.0094 never reach scratch; G_zero (1.2362 ± 0.0106) and G_random (1.2368 ± 0.0128) beat it on two seeds of three (+5 to +22%); depth G_stack ×2 beats it on all three (+23.7%). Width loses to depth, as in the paper, though G_zero and G_random do not lose to scratch as they did there.
#
# Why G_direct fails so clearly: Net2Wider copies each unit exactly and splits its outgoing weights, so the two copies of a unit compute the same thing and receive the **same gradient**; training never tells them apart, and the wide model keeps the narrow one's capacity (its loss ends near the 4L×16 model's). The usual fix is a little noise on the copies (the CNN track's `net2wider_noise`), which G_direct here leaves out so that it preserves the function exactly. G_zero and G_random start with new units that differ from the old ones, so the wide model can use its width; but the narrow model's 5% of the budget buys little (a quarter of the target's block parameters), so they end near scratch rather than ahead of it.

# %%
from growkit.record import write_json

results = study.summary()
results["operators"] = {r.op: r.to_dict() for r in width_rows}
results["depth_stack"] = stack_row.to_dict()
results["width"] = answer
print("wrote", write_json(f"{RESULTS_DIR}/results_03.json", results))
