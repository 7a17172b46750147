"""Writes the course notebooks (without outputs) from the cell texts below.

    python notebooks/build_notebooks.py        # rewrite every notebook
    python notebooks/build_notebooks.py 02     # only those whose name starts with 02

Edit the notebooks here, run this, and commit the .ipynb files: tests/test_notebooks.py
checks that the committed notebooks are what this script writes, carry no outputs, and
run under papermill at their smoke parameters. Cells stay thin: logic lives in growkit
(sweep.py, figures.py, widgets.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
REPO = "growkit/growkit"  # placeholder GitHub path for the Colab badges
INSTALL = "growkit @ git+https://github.com/" + REPO


def colab_url(name: str) -> str:
    return f"https://colab.research.google.com/github/{REPO}/blob/main/notebooks/{name}.ipynb"


def badge(name: str) -> str:
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(name)})"


COLAB_CELL = f'''# On Colab, install growkit first (elsewhere it is already there: `make lab`).
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "{INSTALL}"], check=True)'''

COMMON_PARAMETERS = '''SMOKE = False  # True: seconds on a CPU (the regression tests); the numbers then mean nothing
PRESET = "auto"  # "cpu", "gpu" (one GPU), "t4" (Colab's free GPU) or "auto" (from the hardware)
OVERRIDES = {}  # any growkit.compare.CompareConfig field, e.g. {"tokens_per_param": 40}
SEED = 0
PROGRESS = True  # one updating progress bar per run
RUNS_DIR = "runs/course"  # finished runs are cached here, shared by the notebooks; None: always train
RESULTS_DIR = "."  # where this notebook writes its key numbers (results_NN.json)'''

SETUP = '''from growkit import {modules}

preset = sweep.pick_preset(PRESET)
cfg = sweep.course_config(preset, smoke=SMOKE, **OVERRIDES)
study = sweep.Study(cfg, seed=SEED, progress=PROGRESS, cache_dir=RUNS_DIR, preset=preset)
print(study.describe())'''

PRESETS_NOTE = ("Presets: `cpu` (2 CPU cores), `gpu` (one GPU, a wider 8-block target), `t4` "
                "(Colab's free T4). `SMOKE = True` shrinks everything to seconds for the "
                "regression tests; its numbers mean nothing. Finished runs are cached in "
                "`RUNS_DIR`, so a notebook run twice (or a later notebook needing the same "
                "scratch run) trains nothing again.")


def notebook(name: str, title: str, intro: str, extra_parameters: str, cells: list[tuple[str, str]],
             modules: str = "figures, sweep", common: str = COMMON_PARAMETERS, setup: str = SETUP,
             presets_note: str = PRESETS_NOTE):
    """Badge and title, the Colab install cell, the one `parameters` cell (`common` plus
    `extra_parameters`), the `setup` (importing `modules` from growkit), then `cells`:
    (kind, source) pairs, kind 'md' or 'code'."""
    parameters = new_code_cell("# Parameters: papermill overrides these (it adds a cell after this one).\n"
                               + common + (f"\n{extra_parameters}" if extra_parameters else ""))
    parameters.metadata["tags"] = ["parameters"]
    all_cells = [new_markdown_cell(f"{badge(name)}\n\n# {title}\n\n{intro}\n\n{presets_note}"),
                 new_code_cell(COLAB_CELL), parameters, new_code_cell(setup.format(modules=modules))]
    all_cells += [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells]
    for i, cell in enumerate(all_cells):
        cell.id = f"cell-{i:02d}"  # fixed ids: the committed files do not change on every rewrite
    nb = new_notebook(cells=all_cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["colab"] = {"provenance": []}
    return nb


NOTEBOOKS = {}

NOTEBOOKS["00_quick_start"] = notebook(
    "00_quick_start", "Quick start: grow a tiny GPT",
    "**Model growth** trains a small network first, then grows it into the big one you "
    "wanted and trains on, so that the big model reaches its loss with less compute than "
    "training it from scratch. Here a 1-block GPT is trained for a small share of a FLOPs "
    "budget (5% at the `cpu` preset), "
    "stacked four times (G_stack, from *Stacking Your Transformers*, Du et al. 2024), and "
    "trained on for the rest; it is compared with the 4-block target trained from scratch "
    "on the same budget, **and with the small model trained alone on that budget**: growth "
    "only pays if it beats both.\n\n"
    "About 7 minutes on 2 CPU cores at the `cpu` preset (the three runs of `python -m growkit compare` "
    "on half its budget).",
    "",
    [
        ("md", "## Growth in one call\n\n`grow(model, op, dim=..., factor=...)` returns a new, "
               "bigger model and leaves the small one alone. G_stack repeats the whole stack of "
               "blocks in order; G_zero adds blocks that output zero, so the grown model computes "
               "exactly the small model's function (measured below on a validation batch)."),
        ("code", '''import torch

from growkit import GPT, grow, measure_preservation

small = GPT(cfg.model_config(cfg.small_layers, study.data.vocab_size))
big = grow(small, "stack", dim="depth", factor=cfg.factor)
print(f"small: {small.config.n_layer} block(s), {small.n_params():,} params -> "
      f"grown: {big.config.n_layer} blocks, {big.n_params():,} params")
x, y = study.data.batch("val", 8, cfg.block_size, torch.Generator().manual_seed(0))
for op in ["stack", "zero"]:
    print(f"{op:>5}:", measure_preservation(small, grow(small, op, dim="depth", factor=cfg.factor), x, y))'''),
        ("md", "## Three runs, one FLOPs budget\n\n`scratch` is the target from random "
               "initialisation; the grown run is the small model for a small share of the budget "
               "(`cfg.grow_fraction`), "
               "grown, then the target for the rest (its FLOPs count the small model's); the "
               "small model alone gets the whole budget. The budget is set so the target sees "
               "40 tokens per parameter (the paper's runs sit at 40-90; `python -m growkit compare` "
               "uses 80)."),
        ("code", '''stack = sweep.Variant(cfg.op, "depth", cfg.factor)
row = study.run([stack])[0]'''),
        ("code", '''fig = figures.plot_study(study, [stack], title="validation loss against compute")'''),
        ("md", "**Speedup** = the FLOPs scratch needs to reach its own final loss, divided by what "
               "the grown run needs to reach it (small model included), minus one. Read each run's "
               "tokens per parameter too: at a few tokens per parameter a big target loses to the "
               "small model alone, and any speedup over scratch is meaningless."),
        ("code", '''print(sweep.format_rows([row], study.scratch))
print()
print(sweep.verdict(row, study.scratch))'''),
        ("code", '''results = study.summary()
results["headline"] = sweep.headline(row, study.scratch)
print("wrote", sweep.save_results(f"{RESULTS_DIR}/results_00.json", results))'''),
        ("md", "Next: `01` looks inside the compute ledger, `02` and `03` try all four growth "
               "operators in depth and in width, `04` asks when and how much to grow, `06` lets "
               "you explore with widgets."),
    ])

NOTEBOOKS["01_tiny_gpt_and_ledger"] = notebook(
    "01_tiny_gpt_and_ledger", "The tiny GPT and its compute ledger",
    "Every comparison in this course is on **FLOPs**, so first: where a GPT's FLOPs go, how "
    "growkit counts them (checked against PyTorch's own counter), and what a bigger model buys "
    "for the same compute. The GPT is LLaMA-style (RMSNorm, rotary positions, SwiGLU), in one "
    "file: `growkit/gpt.py`.\n\n"
    "About 7 minutes on 2 CPU cores at the `cpu` preset (three models on one budget; 2 after `00`).",
    "",
    [
        ("md", "## FLOPs per token\n\nTraining costs about 6 FLOPs per weight per token (2 forward, "
               "4 backward) for every weight in a matrix multiply, plus the attention scores "
               "(QK<sup>T</sup> and AV), which grow with the sequence length T: "
               "`flops_per_token = 6 N_matmul + 12 L d T`. Embedding lookups and norms do no "
               "matmuls."),
        ("code", '''ladder = sweep.depth_ladder(cfg)  # the target's width at 1/4, 1/2 and all of its depth
parts = sweep.flops_breakdown(study.target, cfg.block_size)
for part, flops in parts.items():
    print(f"{part:<38} {flops:>14,.0f}  {flops / parts['total']:6.1%}")'''),
        ("code", '''from growkit import GPT

ledger = []
for m in ladder:
    formula = GPT(m).flops_per_token(cfg.block_size)
    counted = sweep.counted_flops_per_token(m)  # torch.utils.flop_counter.FlopCounterMode
    ledger.append({"model": sweep.model_name(m), "params": GPT(m).n_params(), "formula": formula,
                   "counted": counted, "ratio": formula / counted})
    print(f"{sweep.model_name(m):>8}: {GPT(m).n_params():>9,} params  formula {formula:>12,.0f}  "
          f"counted {counted:>12,.0f}  ratio {formula / counted:.4f}")'''),
        ("md", "## What a bigger model buys\n\nThe same FLOPs budget buys a small model many more "
               "tokens than a big one. Below, each model of the ladder trains alone on the whole "
               "budget (each with its own learning rate). Early on the small models lead; the "
               "bigger one gets ahead only once it has seen enough tokens per parameter."),
        ("code", '''records = [study.train_alone(m) for m in ladder]
fig = figures.plot_records(records, title="one FLOPs budget, three depths", references=False)'''),
        ("code", '''crossovers = []
for smaller, bigger in zip(records, records[1:]):
    at = sweep.crossover_flops(smaller, bigger)
    crossovers.append({"smaller": smaller.name, "bigger": bigger.name, "flops": at,
                       "share_of_budget": None if at is None else at / study.budget_flops})
    when = ("never, on this budget" if at is None
            else f"after {at:.3g} FLOPs ({at / study.budget_flops:.0%} of the budget)")
    print(f"{bigger.name} gets ahead of {smaller.name} for good: {when}")'''),
        ("md", "## The ledger\n\nEach run's record holds its history: step, tokens, cumulative "
               "FLOPs, losses. Every run spends the same budget (to within one step):"),
        ("code", '''for rec in records:
    print(f"{rec.name:<14} steps {rec.final['step']:>6}  tokens {rec.total_tokens:>12,.0f}  "
          f"FLOPs {rec.total_flops:.4g} ({rec.total_flops / study.budget_flops:.3f} of the budget)  "
          f"{rec.tokens_per_param:6.0f} tokens/param  final val loss {rec.final_val_loss:.4f}")'''),
        ("code", '''results = {"preset": preset, "budget_flops": study.budget_flops, "flops_per_token": ledger,
           "breakdown": parts, "runs": [sweep.run_numbers(r) for r in records], "crossovers": crossovers}
print("wrote", sweep.save_results(f"{RESULTS_DIR}/results_01.json", results))'''),
    ])

NOTEBOOKS["02_depth_growth"] = notebook(
    "02_depth_growth", "Depth growth: the four operators ↑",
    "*Stacking Your Transformers* sorts growth methods into four atomic operators. In depth:\n\n"
    "- **G_direct = G_stack**: the trained blocks, the whole stack repeated g times.\n"
    "- **G_zero**: new blocks whose output projections are zero, so the function is preserved.\n"
    "- **G_random**: new blocks freshly initialised.\n"
    "- **G_learn** (LiGO): a learned linear map from the small blocks to the big ones, trained "
    "briefly (its compute is charged to the run).\n\n"
    "At ~1.1B parameters the paper found G_stack +49%, G_learn +49%, G_zero +47%, G_random "
    "−26%; and that stacking the whole model beats interpolation and partial stacking, and "
    "that function preservation is not what makes it work. Here: the same at tiny scale.\n\n"
    "About 25 minutes on 2 CPU cores at the `cpu` preset (11 runs; fewer with cached runs).",
    "ABLATION = True  # also stacking vs interpolation vs partial stacking",
    [
        ("code", '''variants = sweep.operators("depth", cfg.factor, smoke=SMOKE)
rows = study.run(variants)
fig = figures.plot_study(study, variants, title="depth growth: the four operators")'''),
        ("code", '''fig = figures.plot_speedups(rows, title="depth operators (diamonds: the paper)")
print(sweep.format_rows(rows, study.scratch))'''),
        ("md", "## Preservation at the growth point\n\nMeasured on a validation batch when the model "
               "grows: the largest change of any logit, the change in loss, and the validation "
               "loss just before and just after growth. G_zero keeps it to float precision; G_stack "
               "does not preserve, and (in the paper) still wins."),
        ("code", '''print(sweep.format_preservation(rows))'''),
        ("md", "## Stacking vs interpolation vs partial stacking\n\nWith a small model of two or "
               "more blocks the layer order matters: `[0,1,0,1]` (stack), `[0,0,1,1]` "
               "(interpolate), or repeating only the bottom, middle or top part."),
        ("code", '''ablation_rows = study.run(sweep.stacking_ablation(cfg)) if ABLATION else []
if ablation_rows:
    fig = figures.plot_speedups(ablation_rows, paper=False, title="layer order at one factor")
    print(sweep.format_rows(ablation_rows, study.scratch))'''),
        ("code", '''results = study.summary()
results["operators"] = {r["op"]: r for r in rows}
results["ablation"] = {r["options"]["order"]: r for r in ablation_rows}
print("wrote", sweep.save_results(f"{RESULTS_DIR}/results_02.json", results))'''),
    ])

NOTEBOOKS["03_width_growth"] = notebook(
    "03_width_growth", "Width growth: the four operators →",
    "Growing in width: `n_embd`, the heads and the MLP hidden units all grow by the factor "
    "(head size kept), from a model of the target's depth at 1/g of its width, which has about "
    "1/g² of its block parameters (at g = 2 about the depth operators' 1/4).\n\n"
    "- **G_direct**: every unit duplicated and its outgoing weights split among the copies "
    "(Net2WiderNet); exactly preserving.\n"
    "- **G_zero**: new units with zero outgoing weights, exactly preserving (with RMSNorm "
    "rescaled; see `growkit/grow/width.py`).\n"
    "- **G_random**: new weights freshly initialised.\n"
    "- **G_learn**: LiGO's learned width expansion, trained briefly.\n\n"
    "In the paper every width operator lost to scratch (G_direct −0.7%, G_zero −18%, G_random "
    "−14%, G_learn −15%) while depth stacking won. Does width lose here too?\n\n"
    "About 15 minutes on 2 CPU cores at the `cpu` preset (fewer with cached runs from `02`).",
    "WIDTH_FACTOR = 2  # must divide the target's heads",
    [
        ("code", '''variants = sweep.operators("width", WIDTH_FACTOR, smoke=SMOKE)
depth_stack = sweep.Variant("stack", "depth", cfg.factor)  # the depth winner, for reference
rows = study.run(variants + [depth_stack])
width_rows, stack_row = rows[:-1], rows[-1]
fig = figures.plot_study(study, variants, title="width growth: the four operators")'''),
        ("code", '''fig = figures.plot_speedups(rows, title="width operators and depth G_stack (diamonds: the paper)")
print(sweep.format_rows(rows, study.scratch))'''),
        ("code", '''print(sweep.format_preservation(width_rows))'''),
        ("code", '''answer = sweep.width_verdict(width_rows, stack_row)
print(answer["text"])'''),
        ("code", '''results = study.summary()
results["operators"] = {r["op"]: r for r in width_rows}
results["depth_stack"] = stack_row
results["width"] = answer
print("wrote", sweep.save_results(f"{RESULTS_DIR}/results_03.json", results))'''),
    ])

NOTEBOOKS["04_when_and_how_much"] = notebook(
    "04_when_and_how_much", "When to grow, and by how much",
    "Two knobs: the **growth timing** (how much of the budget the small model gets before "
    "growth, d in tokens) and the **growth factor** g. The paper found g = 4 best and fitted a "
    "guideline for d: `log10(d) = 0.88·log10(N) + 163.27/log10(C) − 5.74` (N target "
    "parameters, C FLOPs budget). Here: the speedup surface over both knobs at tiny scale, and "
    "what the guideline asks for at these sizes.\n\n"
    "About 15 minutes on 2 CPU cores at the `cpu` preset (a 3 × 2 sweep).",
    '''FRACTIONS = [0.1, 0.25, 0.5]  # share of the FLOPs budget spent before growth
FACTORS = [2, 4]  # growth factors g (each must divide the target's depth)
OP = "stack"''',
    [
        ("code", '''variants = sweep.grid(OP, "depth", FRACTIONS, FACTORS, cfg, smoke=SMOKE)
rows = study.run(variants)
fig = figures.plot_surface(rows)'''),
        ("code", '''print(sweep.format_rows(rows, study.scratch))
best = sweep.best_by_factor(rows)
for g, top in best.items():
    print(f"g = {g}: " + ("no growth point reached scratch's loss" if top is None else
          f"best at {top['grow_fraction']:.0%} of the budget ({top['speedup_flops']:+.0%})"))'''),
        ("code", '''top = sweep.best(rows)
if top is not None:
    fig = figures.plot_study(study, [variants[rows.index(top)]], title="the best point of the sweep")'''),
        ("md", "## The paper's guideline at these sizes\n\nThe guideline was fitted on runs of "
               "hundreds of millions to billions of parameters. Evaluated at this course's sizes "
               "it asks the small model to train for more tokens than the **whole** budget could "
               "buy it, by orders of magnitude: below some size it cannot be followed at all, and "
               "the sweep above says what share of the budget works here instead."),
        ("code", '''points = []
for name in ["cpu", "gpu", "t4"]:
    point = sweep.guideline_point(sweep.course_config(name), vocab_size=study.data.vocab_size)
    points.append({"name": f"course {name}", **point})
if SMOKE:
    points.append({"name": "this run (smoke)", **sweep.guideline_point(cfg, vocab_size=study.data.vocab_size)})
for p in points:
    print(f"{p['name']:<18} N {p['params']:>10,}  C {p['flops']:.3g}  guideline d {p['guideline_tokens']:.3g} tokens; "
          f"the whole budget buys the small model {p['budget_tokens_small']:.3g}: d costs "
          f"{p['guideline_fraction']:.3g} × the budget")
break_even = sweep.guideline_break_even(80.0, cfg.factor)
print(f"At 80 tokens/param the guideline fits in the budget only for targets above ~{break_even:.2g} parameters.")
fig = figures.plot_guideline(points, 80.0, cfg.factor)'''),
        ("code", '''results = study.summary()
results["surface"] = [{k: r[k] for k in ("factor", "grow_fraction", "speedup_flops", "speedup_tokens",
                                         "reason", "tokens_per_param", "val_loss")} for r in rows]
results["best"] = best
results["guideline"] = points
results["guideline_break_even_params"] = break_even
print("wrote", sweep.save_results(f"{RESULTS_DIR}/results_04.json", results))'''),
    ])

MIXTURE_PARAMETERS = '''SMOKE = False  # True: seconds on a CPU, on scikit-learn's digits (the regression tests)
PRESET = "auto"  # "cpu" (fashion-mnist), "gpu" or "t4" (CIFAR-10, downloaded once), or "auto"
OVERRIDES = {}  # any growkit.mixture_compare.MixtureCompareConfig field, e.g. {"epochs": 1}
SEEDS = [0]  # the closing table of the issue used [0, 1, 2]
RUNS = None  # None: all nine runs; or a list, e.g. ["scratch", "small", "mixture-orthogonal", "net2wider"]
PROGRESS = True  # one updating progress bar per run
RUNS_DIR = "runs/course"  # finished runs are kept here (a folder per configuration); None: a temporary one
RESULTS_DIR = "."  # where this notebook writes its key numbers (results_05.json)'''

MIXTURE_SETUP = '''import tempfile

from growkit import {modules}
from growkit.data import load_images

preset = "smoke" if SMOKE else sweep.pick_preset(PRESET)
cfg = mixture_compare.preset(preset, seeds=SEEDS, **({{"runs": RUNS}} if RUNS else {{}}), **OVERRIDES)
data = load_images(cfg.data, augment=cfg.augment)
out = mixture_compare.folder_for(cfg, RUNS_DIR or tempfile.mkdtemp())
print(mixture_compare.describe(cfg, data))'''

NOTEBOOKS["05_mixture_growth"] = notebook(
    "05_mixture_growth", "MixtureGrowth: widening a CNN from its own templates",
    "*MixtureGrowth* (Pham et al., WACV 2024) grows a CNN in width by recombining what it has "
    "already learned. Every conv and linear weight is a linear combination of **parameter "
    "templates**, `W = Σ_k α_k T_k`. Two half-width *members* are trained, each with its own "
    "template set; growth builds every full-width weight from blocks `[[W0, W2], [W3, W1]]`: "
    "W0 and W1 are the trained members, W2 and W3 are **new linear combinations of the templates "
    "they already have**. The paper reports +2 to +2.5 points of top-1 over earlier growth "
    "methods on CIFAR-100, and a big net's accuracy for fewer FLOPs than training it from "
    "scratch.\n\n"
    "Here, on one FLOPs budget: MixtureGrowth with four choices of new coefficients, three ways "
    "of widening a plain CNN (random new weights, zero new fan-out, Net2Wider copies), the "
    "full-width net from scratch, and **the half-width net alone** (growth has to beat it too).\n\n"
    "About 30 minutes per seed on one CPU core at the `cpu` preset (fashion-mnist, nine runs).",
    "",
    [
        ("md", "## Template layers\n\nA `TemplateCNN` holds both members. Each layer keeps a "
               "template set per member and a row of mixing coefficients per member: member 0's "
               "weight is `Σ_k α_0k T_0k`. Before growth, `model(x, member=i)` runs member i alone."),
        ("code", '''import torch

from growkit import TemplateCNN, grow

nets = mixture_compare.shapes(cfg, data)
members = TemplateCNN(nets.template).eval()
conv = members.stages[0][0].conv1
mixed = torch.tensordot(conv.coefs[0], conv.templates[0], dims=1)  # Σ_k α_0k T_0k
print(f"a conv layer: {conv.templates.shape[1]} templates per member; member 0's weight "
      f"{tuple(conv.weight(member=0).shape)} = Σ α T up to {(conv.weight(member=0) - mixed).abs().max():.1e}")
x, y = data.batch("val", 16, generator=torch.Generator().manual_seed(0))
with torch.no_grad():
    logits = [members(x, member=m)[0] for m in (0, 1)]
print(f"two members, {members.n_params():,} parameters in all; each gives logits {tuple(logits[0].shape)}")'''),
        ("md", "## Growth in one call\n\n`grow(members, \"mixture\", dim=\"width\", coefs=...)` "
               "returns one full-width net. With `coefs=\"zero\"` the new blocks are zero and the "
               "grown net computes exactly the sum of the members' logits; the other choices "
               "(orthogonal to the members' coefficients, a copy of them, random) change the "
               "function at once, and training decides which start is best."),
        ("code", '''preservation = {}
with torch.no_grad():
    for coefs in ["zero", "orthogonal", "copy", "random"]:
        grown = grow(members, "mixture", dim="width", coefs=coefs).eval()
        preservation[coefs] = (grown(x)[0] - (logits[0] + logits[1])).abs().max().item()
        print(f"coefs={coefs:<10} {grown.n_params():,} params; max |logits - (member 0 + member 1)| "
              f"= {preservation[coefs]:.2e}")'''),
        ("md", "## Every way of widening, one FLOPs budget\n\nThe budget is a number of epochs of "
               "the full-width net, in FLOPs counted by PyTorch's `FlopCounterMode`. The members get "
               "half of the growth phase's share each; the baselines' half-width net gets all of it. "
               "Finished runs are kept in `RUNS_DIR`, so running this again trains nothing."),
        ("code", '''summary = mixture_compare.compare(cfg, out, progress=PROGRESS)
print(summary["table"])'''),
        ("code", '''records = mixture_compare.load_records(out)
seed = cfg.seeds[0]
first = {run: by_seed[seed] for run, by_seed in records.items() if seed in by_seed}
fig = figures.plot_image_runs(first, title=f"validation accuracy against compute, seed {seed}")
fig = figures.plot_accuracy_bars(summary)'''),
        ("md", "## What the numbers say\n\nFirst the honest reference: does the full-width net "
               "beat the half-width one alone on this budget? If not, the budget is too small for "
               "the big net and no comparison of growth methods means much."),
        ("code", '''answer = mixture_compare.verdict(summary)
print(answer["text"])'''),
        ("code", '''results = {"preset": preset, "description": mixture_compare.describe(cfg, data),
           "rows": summary["rows"], "verdict": answer, "preservation": preservation}
print("wrote", sweep.save_results(f"{RESULTS_DIR}/results_05.json", results))'''),
    ], modules="figures, mixture_compare, sweep", common=MIXTURE_PARAMETERS, setup=MIXTURE_SETUP,
    presets_note="Presets: `cpu` (fashion-mnist, a WRN-10-1), `gpu` and `t4` (CIFAR-10, a WRN-16-4; "
                 "downloaded once by torchvision). `SMOKE = True` shrinks everything to seconds on "
                 "scikit-learn's digits for the regression tests; its numbers mean nothing.")

NOTEBOOKS["06_explorer"] = notebook(
    "06_explorer", "Explorer: grow it yourself",
    "Pick an operator, a direction, a factor and a growth point, press **train and overlay**, "
    "and watch the run's loss-versus-FLOPs curve appear over the earlier ones, beside the "
    "scratch run and the small model alone (the first press trains those two, once). The "
    "readout gives each run's speedup and tokens per parameter.\n\n"
    "On a CPU each run takes minutes at the `cpu` preset. For snappier exploration lower the "
    "budget, e.g. `OVERRIDES = {\"tokens_per_param\": 20}`, and watch the small-model-alone "
    "reference: at a few tokens per parameter the target stops deserving its size.\n\n"
    "Headless (papermill, `WIDGETS = False`) the notebook trains the runs in `RUNS` instead "
    "and shows the same plot and table: widgets would wait for a person forever.",
    '''WIDGETS = True  # False: no widgets; train RUNS and show the result (headless runs)
RUNS = [{"op": "stack", "dim": "depth", "factor": 4}, {"op": "zero", "dim": "width", "factor": 2}]''',
    [
        ("code", '''from IPython.display import display

from growkit.widgets import Explorer

explorer = Explorer(study, learn_steps=sweep.learn_steps(SMOKE))
if WIDGETS:
    display(explorer.widget())
else:
    for run in RUNS:
        explorer.run(**run)
    fig = explorer.figure()
    print(explorer.table())'''),
        ("md", "Run the next cell whenever you want to keep what you have explored so far."),
        ("code", '''results = study.summary()
results["explored"] = explorer.rows()
print("wrote", sweep.save_results(f"{RESULTS_DIR}/results_06.json", results))'''),
    ], modules="sweep")


def write(names: list[str] | None = None) -> list[Path]:
    written = []
    for name, nb in NOTEBOOKS.items():
        if names and not any(name.startswith(n) for n in names):
            continue
        path = HERE / f"{name}.ipynb"
        nbformat.validate(nb)
        path.write_text(nbformat.writes(nb) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write(sys.argv[1:]):
        print("wrote", p)
