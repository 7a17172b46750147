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

# %% [raw]
# # ASSIGNMENT CONFIG
# name: 04_honest_experiment
# runs_on: colab
# init_cell: true
# check_all_cell: true
# export_cell:
#   pdf: false
# run_tests: false
# generate: true
# tests:
#   files: true
#   ok_format: false

# %% [markdown]
# # Assignment 4: an honest growth experiment
#
# A growth claim is only as good as its ledger. Given a FLOPs budget and a target model, you choose the small model, when to grow and the operator, then run the three runs every claim in this course rests on, **each on exactly the same FLOPs budget**:
#
# - **scratch**: the target from random initialisation;
# - **grown**: the small model for part of the budget, grown into the target, trained for the rest (its FLOPs count the small phase);
# - **small alone**: the small model on the whole budget (growth has to beat it too).
#
# Then you write the verdict the numbers support, and explain it. At the default budget the three runs take about ten seconds on a CPU and the numbers are noisy; `BUDGET = 3e11` (about a minute) gives numbers worth arguing about.

# %%
import dataclasses

import torch
from growkit import GPT, GPTConfig, TrainConfig, Trainer, load_text, train
from growkit.speedup import speedup

# %% tags=["parameters"]
BUDGET = 3e10  # FLOPs each run may spend (about 160 steps of the target)
SEED = 0

# %%
data = load_text("kjv")
BLOCK, BATCH = 32, 16  # sequence length and batch size of every run
TARGET = GPTConfig(vocab_size=data.vocab_size, block_size=BLOCK, n_layer=4, n_head=2, n_embd=32)


def train_config(steps):
    """The training settings of every phase of every run here; only the number of steps differs."""
    return TrainConfig(steps=steps, batch_size=BATCH, lr=3e-3, warmup=10, eval_every=20, eval_batches=2,
                       seed=SEED)


# %% [raw]
# # BEGIN QUESTION
# name: q1
# points: 4

# %% [markdown]
# ## Q1. Three runs, one budget
#
# 1. Write `step_flops(cfg)`: the training FLOPs of one step of a GPT of config `cfg` (`GPT.flops_per_token(seq_len)` counts forward and backward per token; a step processes `BATCH` sequences of `BLOCK` tokens).
# 2. Choose `SMALL` (a `GPTConfig` the operator can grow into `TARGET`), `OPERATOR`, `DIM`, `FACTOR` and `GROW_AT` (the share of the budget the small phase spends).
# 3. Train `scratch`, `grown` and `small_alone` (three `Record`s) with `train(GPT(cfg), data, train_config(steps), name=..., progress=False)`, and for the grown run a `Trainer`: `trainer.fit()`, `trainer.grow(OPERATOR, dim=DIM, factor=FACTOR, config=train_config(steps))`, `trainer.fit()`, then `trainer.record`. Give each run as many whole steps as fit in its budget, **counting the small phase's FLOPs in the grown run's budget**. Call `torch.manual_seed(SEED)` before building each first model, so the runs start alike.

# %% [raw]
# # BEGIN SOLUTION

# %%
def step_flops(cfg):
    # BEGIN SOLUTION
    return GPT(cfg).flops_per_token(BLOCK) * BATCH * BLOCK
    # END SOLUTION


SMALL = dataclasses.replace(TARGET, n_layer=1)  # SOLUTION
OPERATOR = "stack"  # SOLUTION
DIM = "depth"  # SOLUTION
FACTOR = 4  # SOLUTION
GROW_AT = 0.25  # SOLUTION

# %%
# scratch: the target, the whole budget
# BEGIN SOLUTION
torch.manual_seed(SEED)
scratch = train(GPT(TARGET), data, train_config(int(BUDGET // step_flops(TARGET))), name="scratch", progress=False)
# END SOLUTION

# %%
# grown: SMALL for GROW_AT of the budget, grown, then TARGET for what is left
# BEGIN SOLUTION
small_steps = int(GROW_AT * BUDGET // step_flops(SMALL))
grown_steps = int((BUDGET - small_steps * step_flops(SMALL)) // step_flops(TARGET))
torch.manual_seed(SEED)
trainer = Trainer(GPT(SMALL), data, train_config(small_steps), name="grown", progress=False)
trainer.fit()
trainer.grow(OPERATOR, dim=DIM, factor=FACTOR, config=train_config(grown_steps))
trainer.fit()
grown = trainer.record
# END SOLUTION

# %%
# small alone: SMALL, the whole budget
# BEGIN SOLUTION
torch.manual_seed(SEED)
small_alone = train(GPT(SMALL), data, train_config(int(BUDGET // step_flops(SMALL))), name="small alone",
                    progress=False)
# END SOLUTION

# %% [raw]
# # END SOLUTION

# %%
for r in (scratch, grown, small_alone):
    print(f"{r.name:12s} {r.total_flops:.4g} FLOPs ({r.total_flops / BUDGET:.2%} of the budget), "
          f"final validation loss {r.final_val_loss:.4f}")

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
""" # END TEST CONFIG
def test_q1_scratch_ledger(step_flops, scratch, BUDGET, TARGET, BLOCK, BATCH):
    from growkit import GPT
    want = GPT(TARGET).flops_per_token(BLOCK) * BATCH * BLOCK
    got = step_flops(TARGET)
    assert isinstance(got, (int, float)) and abs(got / want - 1) < 1e-9, (
        f"one step of the target costs {want:.4g} FLOPs (flops_per_token(BLOCK) per token, BATCH * BLOCK tokens), "
        f"your step_flops says {got}")
    assert scratch is not None and hasattr(scratch, "total_flops"), "train the scratch run (a Record named scratch)"
    spent = scratch.total_flops
    assert BUDGET - want < spent <= BUDGET, (
        f"scratch spent {spent:.4g} FLOPs of the {BUDGET:.4g} budget: give it every whole step that fits "
        f"({int(BUDGET // want)} steps), no more")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q1_grown_ledger(grown, scratch, BUDGET, TARGET, BLOCK, BATCH):
    from growkit import GPT
    assert grown is not None and hasattr(grown, "events"), "train the grown run (a Record named grown)"
    growths = [e for e in grown.events if e.get("kind", "growth") == "growth"]
    assert len(growths) == 1, f"the grown run should grow once, it grew {len(growths)} times"
    final = grown.phases[-1]["model"]
    assert final == scratch.phases[-1]["model"], (
        f"the grown run must end as the target scratch trains ({scratch.phases[-1]['model']}), it ends as {final}")
    step = GPT(TARGET).flops_per_token(BLOCK) * BATCH * BLOCK
    spent = grown.total_flops
    assert BUDGET - step < spent <= BUDGET, (
        f"the grown run spent {spent:.4g} FLOPs of the {BUDGET:.4g} budget ({spent / BUDGET:.1%}): its small phase "
        f"({growths[0]['flops']:.4g} FLOPs) counts too, so the target gets what is left, every whole step of it")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q1_small_alone_ledger(small_alone, grown, BUDGET, BLOCK, BATCH):
    from growkit import GPT, GPTConfig
    assert small_alone is not None and hasattr(small_alone, "phases"), (
        "train the small model alone (a Record named small_alone)")
    assert grown is not None and hasattr(grown, "phases"), "train the grown run first"
    small = grown.phases[0]["model"]
    assert small_alone.phases[0]["model"] == small, (
        f"the small model alone must be the grown run's small model ({small}), got {small_alone.phases[0]['model']}")
    step = GPT(GPTConfig(**small)).flops_per_token(BLOCK) * BATCH * BLOCK
    spent = small_alone.total_flops
    assert BUDGET - step < spent <= BUDGET, (
        f"the small model alone spent {spent:.4g} FLOPs ({spent / BUDGET:.1%} of the budget): it gets the whole "
        "budget, like the other two runs, or the comparison is not fair")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q1_one_recipe(scratch, grown, small_alone, BLOCK, BATCH):
    # Read from the records alone: nothing is retrained here.
    from growkit import GPT, GPTConfig
    runs = [r for r in (scratch, grown, small_alone) if r is not None and getattr(r, "phases", None)]
    assert len(runs) == 3, "train the three runs first (scratch, grown, small_alone)"
    ignore = {"steps", "schedule_offset", "schedule_steps"}
    recipe = {k: v for k, v in scratch.phases[0]["train"].items() if k not in ignore}
    for run in runs:
        for phase in run.phases:
            differs = sorted(k for k, v in phase["train"].items() if k not in ignore and recipe.get(k) != v)
            assert not differs, (
                f"{run.name}'s phase {phase['phase']} trains with other settings than scratch ({differs}): every "
                "phase of every run uses train_config(steps), only the number of steps differs")
    small = GPTConfig(**grown.phases[0]["model"])
    small_steps = grown.phases[0]["train"]["steps"]
    spent = grown.events[0]["flops"] if grown.events else 0.0
    want = small_steps * GPT(small).flops_per_token(BLOCK) * BATCH * BLOCK
    assert small_steps > 0 and abs(spent / want - 1) < 1e-6, (
        f"the grown run's ledger says its small phase spent {spent:.4g} FLOPs before growing: the small model's "
        "training must happen in that run (the Trainer that grows it), so that the ledger counts all of it")
    first, alone = grown.history[0], small_alone.history[0]
    assert first["flops"] == 0 and abs(first["val_loss"] - alone["val_loss"]) < 1e-4, (
        f"the grown run starts at validation loss {first['val_loss']:.4f} and {first['flops']:.4g} FLOPs, the small "
        f"model alone at {alone['val_loss']:.4f}: the same small model from the same seed starts alike, unless it "
        "was trained before the grown run's ledger began (its FLOPs would then be missing from the budget)")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2
# points: 3

# %% [markdown]
# ## Q2. The verdict the numbers support
#
# Fill `VERDICT` from your three records (use `speedup(scratch, grown)` from `growkit.speedup`: its `.flops` is the FLOPs speedup, None when the grown run never reaches scratch's final loss):
#
# - `"speedup"`: the FLOPs speedup of grown over scratch (a float, or None);
# - `"grown_beats_scratch"`, `"grown_beats_small_alone"`, `"target_beats_small_alone"`: whether the first run's final validation loss is lower than the second's.

# %% [raw]
# # BEGIN SOLUTION

# %%
VERDICT = {  # SOLUTION
    "speedup": speedup(scratch, grown).flops,  # SOLUTION
    "grown_beats_scratch": grown.final_val_loss < scratch.final_val_loss,  # SOLUTION
    "grown_beats_small_alone": grown.final_val_loss < small_alone.final_val_loss,  # SOLUTION
    "target_beats_small_alone": scratch.final_val_loss < small_alone.final_val_loss,  # SOLUTION
}  # SOLUTION

# %% [raw]
# # END SOLUTION

# %%
print(VERDICT)

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
""" # END TEST CONFIG
def test_q2_form(VERDICT):
    keys = {"speedup", "grown_beats_scratch", "grown_beats_small_alone", "target_beats_small_alone"}
    assert isinstance(VERDICT, dict), f"VERDICT must be a dict with the keys {sorted(keys)}, got {VERDICT!r}"
    assert set(VERDICT) == keys, f"VERDICT's keys must be {sorted(keys)}, got {sorted(VERDICT)}"
    assert VERDICT["speedup"] is None or isinstance(VERDICT["speedup"], float), (
        f"VERDICT['speedup'] is a float, or None when there is none; got {VERDICT['speedup']!r}")
    for k in keys - {"speedup"}:
        assert isinstance(VERDICT[k], bool), f"VERDICT[{k!r}] is True or False, got {VERDICT[k]!r}"

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q2_speedup_agrees(VERDICT, scratch, grown):
    from growkit.speedup import speedup
    assert isinstance(VERDICT, dict) and "speedup" in VERDICT, "fill VERDICT first"
    s = speedup(scratch, grown)
    got = VERDICT["speedup"]
    if s.flops is None:
        assert got is None, f"your grown run never reaches scratch's final loss ({s.reason}): the speedup is None"
    else:
        assert got is not None and abs(got - s.flops) < 1e-9, (
            f"your records give a FLOPs speedup of {s.flops:+.4f}; VERDICT says {got}"
            + (" (that is the speedup in tokens: the ledger is in FLOPs)"
               if got is not None and s.tokens is not None and abs(got - s.tokens) < 1e-9 else ""))

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q2_comparisons_agree(VERDICT, scratch, grown, small_alone):
    assert isinstance(VERDICT, dict) and len(VERDICT) == 4, "fill VERDICT first"
    pairs = {"grown_beats_scratch": (grown, scratch), "grown_beats_small_alone": (grown, small_alone),
             "target_beats_small_alone": (scratch, small_alone)}
    for key, (a, b) in pairs.items():
        want = a.final_val_loss < b.final_val_loss
        assert VERDICT.get(key) is want, (
            f"{a.name} ended at {a.final_val_loss:.4f}, {b.name} at {b.final_val_loss:.4f}: "
            f"VERDICT[{key!r}] must be {want}, got {VERDICT.get(key)!r}")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q3
# manual: true
# points: 4

# %% [markdown]
# ## Q3. Your reasoning (graded by hand)
#
# In a few sentences: why did you choose this small model, growth point and operator? What does your verdict say, and what would make you distrust it (tokens per parameter, the small model alone, one seed, the size of the speedup against run-to-run noise)? What would you run next with ten times the budget?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# A 1-block model grown ×4 by G_stack at 25% of the budget follows the paper's recommended operator and factor. At this budget every run sees only a few tokens per parameter, so the small model alone may well win: if `target_beats_small_alone` is False, the target is too big for the budget and any speedup over scratch says little. One seed and a few evaluations make differences of a few percent noise; with ten times the budget I would rerun with two more seeds and two growth points.

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION
