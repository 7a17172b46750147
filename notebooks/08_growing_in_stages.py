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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/YOUR_GITHUB_USER/growkit/blob/v0.1.0/notebooks/08_growing_in_stages.ipynb)
#
# # Growing in stages, when to grow, and what the optimizer remembers
#
# The course so far grows once: train a small model, grow it, train on. The papers this course builds on often grow in **stages** — staged training, **gradual stacking** (MIDAS; the `gradual_stack` of the G_stack code), progressive BERT growth — and the G_stack paper's timing guideline asks, at these sizes, for more tokens than the whole budget (notebook 04). Three questions, answered with this kit's own numbers:
#
# 1. Does growing twice (1 → 2 → 4 blocks), or one block at a time (1 → 2 → 3 → 4), beat growing once (1 → 4) on the same FLOPs budget?
# 2. Does carrying AdamW's moments across growth help or hurt, and does the short re-warmup after growth matter?
# 3. Is there a rule for *when* to grow that fits the kit's sweeps better than the paper's formula?
#
# Everything runs at the `cpu` preset, the honest regime of notebook 00: a 4L×48 target at 40 tokens per parameter, which beats the 1-block model trained alone on the same budget by more than twice the seeds' spread (1.2690 ± 0.0083 vs 1.3186 ± 0.0079 over seeds 0–2). One `Trainer` trains every phase of a staged run, so one ledger counts every FLOP and every growth is an event (a dotted line on the curves); a staged run is cached and resumes at any stage like any other (`growkit.stages`).
#
# About 13.7 minutes on 2 CPU cores at the `cpu` preset, cold (820 s measured with `tools/run_course.py --preset cpu --only 08` on 2 idle cores; 6 runs at seed 0, two at a time, one thread each; 3 of them the same as `00`'s, so less after it). Three seeds of everything do not fit in that time: this notebook trains seed 0 (`SEEDS`), and the three-seed tables below were measured with `tools/stage_sweep.py`, which trains exactly these runs.
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
SEEDS = [0]  # seeds trained here; [0, 1, 2] trains the three-seed tables yourself (about three times as long)
PROGRESS = True  # a progress line while a run trains
WORKERS = "auto"  # runs trained at once: "auto" is one process per CPU core at one thread each (faster, and the
#                   same numbers on any CPU; 1 on a GPU); 1 trains them here, one after another, with a progress line
OPTIMIZER_RUNS = ["fresh, re-warmup", "carried, re-warmup"]  # AdamW across growth (growkit.stages.OPTIMIZER_SETTINGS);
#   add "fresh, no re-warmup" and "carried, no re-warmup" to see the re-warmup's part too (two more runs, ~4 min at cpu)
RUNS_DIR = "runs/course"  # finished runs are kept here and reused by every notebook; None: keep nothing
RESULTS_DIR = "."  # where this notebook saves its key numbers (results_08.json)

# %%
from growkit import Study, course, plots
from growkit.stages import GRADUAL, TWO_STAGE, flops_ratio, optimizer_settings, train_together
from growkit.study import Variant

studies = {seed: Study.from_preset(PRESET, seed=seed, progress=PROGRESS, cache_dir=RUNS_DIR, **OVERRIDES)
           for seed in SEEDS}
study = studies[SEEDS[0]]
course.begin(study.preset, study.describe(WORKERS))

# %% [markdown]
# ## The schedules
#
# A `Schedule` is a list of growth events (`Stage`: the share of the FLOPs budget spent before it, the operator, its direction and factor). Each phase gets the budget's share between two events, so every run below spends the same FLOPs:
#
# - **one stage**: G_stack ×4 at 5% of the budget (notebook 00's grown run);
# - **two stages**: the 1-block model stacked ×2 at 5%, the 2-block model ×2 again at 20%;
# - **gradual stacking**: the top block copied onto the stack at 5%, 10% and 20% (1 → 2 → 3 → 4 blocks; `gradual_stack(1, 4, points)`; for a block order the operator takes `layers=[...]`).
#
# All three train the same 1-block model for the same first 5%; they differ in how the target's depth arrives.

# %%
for schedule in (TWO_STAGE, GRADUAL):
    print(f"{schedule.name}:")
    for stage, before, after in zip(schedule.stages, schedule.models(study.small_of(Variant())),
                                    schedule.models(study.small_of(Variant()))[1:]):
        print(f"  at {stage.at:.0%} of the budget: {stage.words}  ({before.n_layer} -> {after.n_layer} blocks)")

ONE_STAGE = Variant("stack", "depth", 4)  # at the preset's grow_fraction, 5%
staged = [ONE_STAGE, Variant("stack", "depth", 4, schedule=TWO_STAGE), Variant("stack", "depth", 4, schedule=GRADUAL)]

# The optimizer across growth: the same one-stage run with AdamW's moments fresh (the paper's and the
# course's default) or carried, with the course's 20-step re-warmup or none (OPTIMIZER_RUNS picks which).
optimizer = {seed: {name: Study.from_preset(PRESET, seed=seed, progress=PROGRESS, cache_dir=RUNS_DIR,
                                            **{**OVERRIDES, **settings})
                    for name, settings in optimizer_settings(OPTIMIZER_RUNS).items()} for seed in SEEDS}
train_together([(studies[s], staged) for s in SEEDS]
               + [(optimizer[s][name], [ONE_STAGE]) for s in SEEDS for name in OPTIMIZER_RUNS], WORKERS)

# %% [markdown]
# ## One stage, two stages, gradual: on one budget
#
# The table has the usual columns (speedup over scratch, tokens per parameter, whether the run beats the 1-block model alone); the line below it adds each schedule's FLOPs speedup over **one-stage G_stack** itself (negative: one-stage G_stack reached this run's final loss with that much less compute). The curves mark every growth event with a dotted line in the run's colour.

# %%
rows = [study.row(v) for v in staged]
print(course.words(study.table(rows), study.preset))  # at smoke: marked, and no tuning advice
one = study.add(ONE_STAGE)
vs_one = {v.name: flops_ratio(one, study.add(v)) for v in staged}
for name, r in vs_one.items():
    print(f"{name}: {'never' if r is None else f'{r:+.1%}'} FLOPs against one-stage G_stack")
fig = plots.plot_study(study, staged, title="one stage, two stages, gradual: every growth dotted")

# %% [markdown]
# ## What the optimizer remembers across growth
#
# `Trainer.grow(..., fresh_optimizer=False)` carries AdamW's two moments (the running mean of the gradient and of its square) of every parameter **copied whole** from the small model (`growth.sources`). What that means depends on the operator:
#
# - **G_stack** copies every block, so every grown block starts with the moments of the block it copies: four blocks with the 1-block model's moments, duplicated.
# - **G_zero / G_random** keep the small blocks (their moments carry) and add new ones, which start from **zero moments** as in a fresh optimizer: Adam's bias correction makes their first step a full-sized one, while the old blocks continue from their history.
#
# The re-warmup (`warmup_after_growth`, 20 steps at this preset) ramps the learning rate up again after growth; it protects a fresh optimizer, whose first steps have no second-moment history. Here the same one-stage run with a fresh and with a carried optimizer (`OPTIMIZER_RUNS` adds the two without the re-warmup; the three-seed table below has all four):

# %%
opt_rows = {name: optimizer[SEEDS[0]][name].row(ONE_STAGE) for name in OPTIMIZER_RUNS}
fresh = one  # fresh moments with the re-warmup: one-stage G_stack's own run
opt_vs = {name: flops_ratio(fresh, optimizer[SEEDS[0]][name].add(ONE_STAGE)) for name in OPTIMIZER_RUNS}
for name, r in opt_rows.items():
    # The first evaluation after growth comes before any step (the same for all four); the next shows the optimizer.
    settled = [h["val_loss"] for h in optimizer[SEEDS[0]][name].add(ONE_STAGE).history if h["phase"] == 1][1]
    print(f"{name:<24} val loss {r.val_loss:.4f}  one evaluation after growth {settled:.4f}  "
          f"speedup over scratch {'never' if r.speedup_flops is None else f'{r.speedup_flops:+.1%}'}  "
          f"against fresh + re-warmup {'never' if opt_vs[name] is None else f'{opt_vs[name]:+.1%}'}")
labels = {id(optimizer[SEEDS[0]][name].add(ONE_STAGE)): f"G_stack ×4 @5%, {name}" for name in OPTIMIZER_RUNS}
ax = plots.plot_curves([optimizer[SEEDS[0]][name].add(ONE_STAGE) for name in OPTIMIZER_RUNS],
                       labels=lambda rec: labels[id(rec)])
ax.set(xlabel="training FLOPs (small model included)", ylabel="validation loss (nats/char)",
       xlim=(fresh.events[0]["flops"] * 0.8, fresh.total_flops * 1.05), title="after growth: the optimizer")
ax.set_ylim(top=rows[0].val_loss_before_growth + 0.1)
ax.legend(fontsize=8)

# %%
if len(SEEDS) > 1:  # your own seeds: mean ± std of the final loss and of the speedup over scratch
    import statistics

    def spread(xs):
        got = [x for x in xs if x is not None]
        return "never on some seed" if len(got) < len(xs) else f"{statistics.fmean(got):+.4f} ± {statistics.stdev(got):.4f}"

    for v in staged:
        runs = [studies[s].row(v) for s in SEEDS]
        print(f"{v.name:<36} val loss {spread([r.val_loss for r in runs])}, speedup {spread([r.speedup_flops for r in runs])}")
    for name in OPTIMIZER_RUNS:
        runs = [optimizer[s][name].row(ONE_STAGE) for s in SEEDS]
        print(f"one stage, {name:<26} val loss {spread([r.val_loss for r in runs])}, "
              f"speedup {spread([r.speedup_flops for r in runs])}")

# %% [markdown]
# ## Over three seeds (measured at `cpu`, one thread per run)
#
# One seed is one draw. `python tools/stage_sweep.py --seeds 0 1 2 --workers 2 --cache runs/stages` trains these same runs for seeds 0–2 (the numbers are the same as this notebook's on the same machine: one thread per run; 60 minutes on 2 cores). Final validation loss and FLOPs speedup, mean ± std over seeds 0–2:
#
# | run | seeds | val loss | speedup vs scratch | per seed | vs one-stage G_stack | per seed |
# | --- | --- | --- | --- | --- | --- | --- |
# | one-stage G_stack ×4 @5% | 0,1,2 | 1.2068 ± 0.0047 | +43.3% ± 6.9% | +36.8% +50.6% +42.6% | +0.0% ± 0.0% | +0.0% +0.0% +0.0% |
# | stack ×2 → ×2 @5%/20% | 0,1,2 | 1.1975 ± 0.0036 | +41.0% ± 6.1% | +36.0% +47.7% +39.3% | +6.3% ± 1.4% | +4.8% +7.7% +6.3% |
# | gradual top-1 1→2→3→4 @5%/10%/20% | 0,1,2 | 1.1982 ± 0.0056 | +40.9% ± 6.8% | +36.0% +48.7% +38.1% | +5.8% ± 2.5% | +4.1% +8.7% +4.6% |
# | G_stack ×4 @5%, fresh, re-warmup | 0,1,2 | 1.2068 ± 0.0047 | +43.3% ± 6.9% | +36.8% +50.6% +42.6% | +0.0% ± 0.0% | +0.0% +0.0% +0.0% |
# | G_stack ×4 @5%, carried, re-warmup | 0,1,2 | 1.2103 ± 0.0027 | +40.0% ± 6.1% | +37.3% +47.1% +35.7% | -4.0% ± 0.7% | -3.7% -3.5% -4.9% |
# | G_stack ×4 @5%, fresh, no re-warmup | 0,1,2 | 1.2814 ± 0.0108 | never (some seed) | never never never | -33.8% ± 3.4% | -32.6% -37.6% -31.1% |
# | G_stack ×4 @5%, carried, no re-warmup | 0,1,2 | 1.2136 ± 0.0027 | +38.2% ± 4.2% | +35.9% +43.1% +35.7% | -6.1% ± 1.9% | -5.4% -8.2% -4.7% |
# | G_stack ×4 @2.5% | 0,1,2 | 1.2235 ± 0.0022 | +33.1% ± 5.8% | +27.5% +39.0% +33.0% | -13.0% ± 2.8% | -11.6% -16.2% -11.1% |
# | G_stack ×4 @10.0% | 0,1,2 | 1.2045 ± 0.0043 | +41.2% ± 6.4% | +35.0% +47.8% +40.9% | +0.6% ± 2.7% | -1.4% -0.6% +3.7% |
# | G_stack ×4 @20.0% | 0,1,2 | 1.2156 ± 0.0053 | +29.5% ± 5.1% | +24.4% +34.7% +29.3% | -8.7% ± 1.2% | -10.0% -8.3% -7.8% |
#
# scratch 4L×48: 1.2690 ± 0.0083 (1.2628, 1.2785, 1.2658); 1L×48 alone: 1.3186 ± 0.0079 (1.3247,
# 1.3097, 1.3216): the target beats its small model alone by 0.050 nats, three times the seeds'
# spread, so the comparison means something.
#
# *Another machine, other float paths.* The one-stage runs are the [operator table](https://github.com/YOUR_GITHUB_USER/growkit/blob/v0.1.0/docs/results.md#all-eight-operators-issue-3)'s
# G_stack runs, trained again here: +43.3 ± 6.9% against +42.5 ± 5.6% there (seed 0 the same +36.8%;
# seeds 1 and 2 +50.6 / +42.6% against +48.0 / +42.8%), and scratch at seed 0 ends at 1.2628 here
# against 1.2617 there. The code is not why: the commit those pages were measured at (`f3dc785`) gives
# 1.2628 on this machine too. A CPU's kernels sum in an order of their own, so numbers are
# reproducible per machine, seed and thread count; every comparison in this table is within one sweep.
#
# What this says:
#
# - **Growing twice ends lower, but does not reach scratch's loss sooner.** Both staged schedules end
#   below one-stage G_stack on every seed (two stages 1.1975 ± 0.0036, gradual stacking 1.1982 ±
#   0.0056, against 1.2068 ± 0.0047) and reach one-stage G_stack's final loss sooner on every seed,
#   by +4 to +9% of FLOPs (+6.3 ± 1.4% and +5.8 ± 2.5%). Where growing twice does **not** pay: on the
#   course's own measure, the FLOPs to reach scratch's final loss, neither beats growing once (+41.0
#   ± 6.1% and +40.9 ± 6.8% against +43.3 ± 6.9%; both behind on all three seeds, two stages by 0.8–3.3
#   points, gradual by 0.8–4.5): the 2- and 3-block phases spend budget at a size that learns slower
#   per FLOP than the 4-block model once it is there, and what they buy shows only in the last part of
#   the budget. The differences in speedup over scratch are within the seeds' spread; the final losses
#   and the ratios to one-stage G_stack have the same sign on every seed.
# - **Carrying AdamW's moments across growth does not help G_stack here**: 1.2103 ± 0.0027 against a
#   fresh optimizer's 1.2068 ± 0.0047, −4.0 ± 0.7% FLOPs against it (negative on every seed: −3.7,
#   −3.5, −4.9%), +40.0 ± 6.1% over scratch. Why was not measured; one reading: the 1-block model's
#   moments, duplicated into four blocks, describe gradients the 4-block model no longer has; the
#   paper's fresh optimizer is the better default.
# - **The re-warmup matters for a fresh optimizer, not a carried one.** A fresh optimizer at the full
#   learning rate from the first step after growth ends at 1.2814 ± 0.0108, worse than scratch (1.2690
#   ± 0.0083): it never reaches scratch's final loss on any seed, and one-stage G_stack with the
#   re-warmup reaches its final loss with a third less compute (−33.8 ± 3.4%, every seed between −31
#   and −38%). Zero moments make Adam's first updates full-sized in every direction at once; 20 steps
#   of warmup (3% of the phase) keep growth's head start. Carried moments without the re-warmup end at
#   1.2136 ± 0.0027, +38.2 ± 4.2% over scratch, −6.1 ± 1.9% against fresh with it (−2.1 points against
#   carried with it): the carried second moment does most of the warmup's job (Adam's steps stay small
#   where gradients were large).

# %% [markdown]
# ## When to grow: a rule fitted to the kit's own sweeps
#
# The paper's guideline, `log10(d) = 0.88·log10(N) + 163.27/log10(C) − 5.74`, was fitted on runs of hundreds of millions to billions of parameters; at this course's sizes it asks for more tokens than the whole budget (notebook 04). The kit has its own sweeps of the growth point: notebook 04's at `cpu-x2` (×2 and ×4, three seeds), the `cpu` target at 80 tokens per parameter (seed 0) and at 40 (this notebook's preset, seeds 0–2, 2.5 / 5 / 10 / 20%, from `tools/stage_sweep.py`). `growkit.stages.fit_timing` fits one rule to all of them:
#
# speedup(f) = height + curvature · (log10 f − log10 f\*)², with f\* = coefficient · (T/40)^a · (g/4)^b
#
# one curvature for all, one height per sweep, and the peak f\* a power law in the budget T (tokens per target parameter) and the factor g. Few budgets make this a weak fit: read its residuals, and where it is extrapolation, before its exponents.

# %%
from growkit.stages import KIT_SWEEPS, fit_timing, paper_fraction, timing_peaks

rule = fit_timing(KIT_SWEEPS)
print(f"fitted: f* = {rule.coefficient:.3f} · (T/40)^{rule.exponent_budget:+.2f} · (g/4)^{rule.exponent_factor:+.2f}, "
      f"curvature {rule.curvature:.3f}; rms residual {rule.rms:.1%} of speedup over {len(rule.residuals)} means")
for p in timing_peaks(KIT_SWEEPS):
    seeds = ", ".join("none" if f is None else f"{f:.1%}" for f in p["per_seed"])
    print(f"{p['setting']:<26} T {p['tokens_per_param']:>4.0f}  g {p['factor']}  rule's f* {rule.predict(p['tokens_per_param'], p['factor']):.1%}; "
          f"its own quadratic peaks at {p['fraction']:.1%} ({'inside' if p['inside'] else 'OUTSIDE'} the measured fractions; "
          f"per seed {seeds}); best measured {p['best_measured']:.1%}")
fig = plots.plot_timing(KIT_SWEEPS, rule, lambda t, g: paper_fraction(study.target, t, g),
                        f"paper's formula at {study.target.n_layer}L×{study.target.n_embd}")

# %% [markdown]
# The fit above, in words (the same text as the [results page](https://github.com/YOUR_GITHUB_USER/growkit/blob/v0.1.0/docs/results.md#growing-in-stages-the-optimizer-across-growth-and-when-to-grow-issue-24), where the residuals are tabled).
#
# Where it holds, and where it is extrapolation:
#
# - **What the data pin down**: growth pays most at about **5–9% of the budget** in every sweep (each
#   sweep's best measured point is 5 or 10%; the two sweeps whose quadratic peaks inside the measured
#   fractions peak at 8.4% (`cpu-x2` ×2) and 6.5% (`cpu` ×4, the same on each of its three seeds)). The
#   fitted curvature (−0.39 per decade squared) puts a point at twice or half the best one about 3.5
#   points of speedup lower, and one at five times it about 19 points lower: early is forgiving, late is
#   not. The rms residual (1.5 points of speedup) is below the seeds' spread of the speedups (3–14
#   points); the largest residuals are the `cpu` sweep's own (up to 2.5 points): its peak is sharper
#   than the shared curvature.
# - **What they do not**: the budget exponent (+0.03) is not measured — it moved from −0.29 to +0.02 when
#   the `cpu` preset's own sweep was added; three budgets (40, 80, 160 tokens per parameter), one target
#   width per budget and a single seed at 80 cannot separate the budget from the model's size. The
#   factor exponent (−0.5: ×2 peaks later than ×4) rests on one ×2 sweep. Outside 40–160 tokens per
#   parameter, factors other than 2 and 4, or other model sizes, the rule is extrapolation (dashed in
#   notebook 08's figure). The 80-token sweep and notebook 04's were measured on other machines
#   (see above: a point or two of speedup).
# - **The staged schedules are not in the fit**: the rule is about one growth event's timing, and a
#   schedule has two or three. What they say about timing is in the table above: their first growth
#   is at one-stage G_stack's 5%, and spreading the depth over 5–20% costs about 2 points of speedup
#   over scratch against growing all of it at 5% (+43.3%), level with growing all of it at 10% (+41.2%).
# - **Against the paper's formula**: at these sizes the paper's guideline asks for 7,000 to 53,000 times
#   the whole budget (`growkit.stages.paper_fraction`, exact FLOPs per token; notebook 04); the kit's own
#   sweeps put the best point near 6% of it. The formula was fitted at hundreds of millions to billions
#   of parameters and does not extend down to 10^5.

# %%
from growkit.record import write_json

by_name = {r.name: r for r in rows}
two, gradual = by_name[TWO_STAGE.name], by_name[GRADUAL.name]


def said(x):
    return "never" if x is None else f"{x:+.0%}"


verdict = course.words(
    f"Growing once (G_stack ×4 at 5%) reaches scratch's final loss with {said(rows[0].speedup_flops)} FLOPs; "
    f"growing twice {said(two.speedup_flops)} ({said(vs_one[TWO_STAGE.name])} against growing once) and gradual "
    f"stacking {said(gradual.speedup_flops)} ({said(vs_one[GRADUAL.name])}). AdamW across growth, against fresh "
    f"moments with the re-warmup: {'; '.join(f'{name} {said(opt_vs[name])}' for name in OPTIMIZER_RUNS)}. "
    f"The timing rule fitted to the kit's sweeps puts the best growth point at {rule.predict(40, 4):.0%} of the budget here "
    f"(rms residual {rule.rms:.1%}); the paper's formula asks for more than the whole budget.", study.preset)
print(verdict)
results = study.summary()
results["verdict"] = {"text": verdict}
results["stages"] = [{**{k: r.to_dict()[k] for k in ("name", "val_loss", "speedup_flops", "reason", "beats_small",
                                                     "tokens_per_param", "flops")},
                      "events": len(study.add(v).events), "vs_one_stage": vs_one[v.name]} for r, v in zip(rows, staged)]
results["optimizer"] = {name: {"val_loss": r.val_loss, "speedup_flops": r.speedup_flops, "vs_fresh": opt_vs[name],
                               "fresh_optimizer": optimizer[SEEDS[0]][name].cfg.fresh_optimizer,
                               "warmup_after_growth": optimizer[SEEDS[0]][name].cfg.warmup_after_growth}
                        for name, r in opt_rows.items()}
results["timing"] = {"coefficient": rule.coefficient, "exponent_budget": rule.exponent_budget,
                     "exponent_factor": rule.exponent_factor, "curvature": rule.curvature,
                     "residuals": rule.residuals, "rms": rule.rms, "peaks": timing_peaks(KIT_SWEEPS)}
print("wrote", write_json(f"{RESULTS_DIR}/results_08.json", results))
