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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/YOUR_GITHUB_USER/growkit/blob/v0.1.0/notebooks/04_when_and_how_much.ipynb)
#
# # When to grow, and by how much
#
# Two knobs: the **growth timing** (how much of the budget the small model gets before growth, d in tokens) and the **growth factor** g. The paper found g = 4 best and fitted a guideline for d: `log10(d) = 0.88·log10(N) + 163.27/log10(C) − 5.74` (N target parameters, C FLOPs budget). Here: the speedup surface over both knobs at tiny scale, and what the guideline asks for at these sizes.
#
# The sweep runs at `cpu-x2` when `PRESET` is `cpu` (`growkit.study.x2_preset`): a 4L×32 target at 160 tokens per parameter, the budget where the 4-block target beats both of its small models (1 and 2 blocks) trained alone. At the `cpu` preset's budget the 2-block model alone beats the 4-block target, so a ×2 point there says nothing about growth (notebook 02 and [*Regimes*](https://github.com/YOUR_GITHUB_USER/growkit/blob/v0.1.0/docs/results.md#regimes-where-each-lessons-comparison-means-something-issue-15) in the results have the numbers).
#
# About 13.4 minutes on 2 CPU cores at the `cpu` preset after `02` (measured: [the README's notebook table](https://github.com/YOUR_GITHUB_USER/growkit/blob/v0.1.0/README.md#notebooks); a 3 × 2 sweep).
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
RESULTS_DIR = "."  # where this notebook saves its key numbers (results_04.json)
FRACTIONS = [0.1, 0.25, 0.5]  # share of the FLOPs budget spent before growth
FACTORS = [2, 4]  # growth factors g (each must divide the target's depth)
OP = "stack"

# %%
from growkit import Study, course, plots
from growkit.study import x2_preset

study = Study.from_preset(x2_preset(PRESET), seed=SEED, progress=PROGRESS, cache_dir=RUNS_DIR, **OVERRIDES)
cfg = study.cfg
course.begin(study.preset, study.describe(WORKERS))

# %%
variants = study.grid(OP, "depth", FRACTIONS, FACTORS)
rows = study.run(variants, workers=WORKERS)
fig = plots.plot_surface(rows)

# %%
from growkit.study import best

print(study.table(rows))
# For each growth factor, the growth point with the largest speedup among those that reached
# scratch's final loss (None: none did).
best_by_factor, sentences = {}, []
for g in sorted({r.factor for r in rows}):
    top = best([r for r in rows if r.factor == g])
    best_by_factor[f"{g:g}"] = (None if top is None else
                                {"grow_fraction": top.grow_fraction, "speedup_flops": top.speedup_flops})
    sentences.append(f"growth factor {g:g}: " + ("no growth point reached scratch's loss" if top is None else
                     f"best grown at {top.grow_fraction:.0%} of the budget ({top.speedup_flops:+.0%})"))
    print(sentences[-1])

# %%
top = best(rows)
if top is not None:
    fig = plots.plot_study(study, [variants[rows.index(top)]], title="the best point of the sweep")

# %% [markdown]
# ### Over three seeds (measured at `cpu-x2`, one thread per run)
#
# One seed is one draw: the ×4 point at 10% gave +7% on seed 0 and +33% and +27% on seeds 1 and 2. FLOPs speedup over scratch, mean ± std over seeds 0–2 (this notebook with `SEED = 1`, `2` and `FRACTIONS = [0.05, 0.1, 0.25, 0.5]`):
#
# | grown at | ×2 (from 2 blocks; alone 1.2656 ± 0.0080) | ×4 (from 1 block; alone 1.3919 ± 0.0107) |
# | --- | --- | --- |
# | 5% | +23.7 ± 2.7% | +26.5 ± 10.3% |
# | 10% | +24.7 ± 5.4% | +22.5 ± 13.6% |
# | 25% | +18.2 ± 3.7% | +12.9 ± 8.0% |
# | 50% | +5.6 ± 3.8% | never (0 of 3) |
#
# Every point beats its small model alone on every seed, so the surface means something here. **Earlier growth pays more**, for both factors, on every seed. **×2 against ×4** is not settled at this size: ×4 is ahead on seeds 1 and 2 at 5–10% and behind on seed 0, and its spread is as large as the difference (the paper found g = 4 best at ~1B parameters). Growing late hurts ×4 more: half the budget on a 1-block model leaves too little for the 4-block one.
#
# ## The paper's guideline at these sizes
#
# The guideline was fitted on runs of hundreds of millions to billions of parameters. Evaluated at this course's sizes it asks the small model to train for more tokens than the **whole** budget could buy it, by orders of magnitude: below some size it cannot be followed at all, and the sweep above says what share of the budget works here instead.

# %%
from growkit import GPT
from growkit.speedup import PAPER_POINT, guideline_break_even, guideline_fraction, guideline_tokens
from growkit.study import plan, preset


def guideline_point(cfg):
    """The guideline at a config's sizes, with exact FLOPs per token: the tokens d it asks the
    small model (cfg.small_layers blocks) to train for, and what share of the budget they cost."""
    p = plan(cfg, study.data.vocab_size)
    n = GPT(p.big).n_params()
    d = guideline_tokens(n, p.budget_flops)
    small_per_token = GPT(p.small).flops_per_token(cfg.block_size)
    return {"params": n, "flops": p.budget_flops, "factor": cfg.factor, "guideline_tokens": d,
            "budget_tokens_small": p.budget_flops / small_per_token,
            "budget_tokens_target": p.budget_flops / GPT(p.big).flops_per_token(cfg.block_size),
            "guideline_fraction": d * small_per_token / p.budget_flops}


points = [{"name": f"course {name}", **guideline_point(preset(name))} for name in ["cpu", "cpu-x2", "gpu", "t4"]]
if study.preset == "smoke":
    points.append({"name": "this run (smoke)", **guideline_point(cfg)})
for p in points:
    print(f"{p['name']:<18} N {p['params']:>10,}  C {p['flops']:.3g}  guideline d {p['guideline_tokens']:.3g} tokens; "
          f"the whole budget buys the small model {p['budget_tokens_small']:.3g}: d costs "
          f"{p['guideline_fraction']:.3g} × the budget")
paper = guideline_fraction(PAPER_POINT["params"], PAPER_POINT["flops"], cfg.factor)
print(f"{PAPER_POINT['name']}: N {PAPER_POINT['params']:.3g}  C {PAPER_POINT['flops']:.3g}  "
      f"d costs {paper:.3g} × the budget (at 6 FLOPs per parameter per token)")
break_even = guideline_break_even(80.0, cfg.factor)
print(f"At 80 tokens/param the guideline fits in the budget only for targets above ~{break_even:.2g} parameters.")
fig = plots.plot_guideline(points, 80.0, cfg.factor)

# %%
from growkit.record import write_json

verdict = course.words(
    "; ".join(sentences).capitalize() + f". The paper's timing guideline fits in the budget only for targets above "
    f"~{break_even:.2g} parameters (at 80 tok/param): at these sizes it cannot be followed.", study.preset)
print(verdict)
results = study.summary()
results["verdict"] = {"text": verdict}
results["surface"] = [{k: r.to_dict()[k] for k in ("factor", "grow_fraction", "speedup_flops", "speedup_tokens",
                                                   "reason", "tokens_per_param", "val_loss")} for r in rows]
results["best"] = best_by_factor
results["guideline"] = points
results["guideline_break_even_params"] = break_even
print("wrote", write_json(f"{RESULTS_DIR}/results_04.json", results))
