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
# name: 01_speedup_metric
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
# # Assignment 1: the speedup metric
#
# Every claim in this course is one number: **speedup = C_scratch / C_grown − 1**, where C is the compute (FLOPs) a run needs to *first reach* the scratch run's final validation loss. In this assignment you write that number yourself, from run records, and decide when there is none.
#
# A run record's `history` is a list of evaluations, each a dict with (among others) `"val_loss"`, `"flops"` and `"tokens"` (both cumulative, counting every phase: a grown run's FLOPs include what its small model spent), and `"phase"` (0 for the first model, 1 after growth, ...).
#
# Run each `grader.check("qN")` cell after your answer: it runs the public tests and tells you what is wrong. Hidden tests grade other records, including the edge cases, so make your code right rather than make the public tests pass. A CPU does it all in seconds.

# %%
import math

# %% [raw]
# # BEGIN QUESTION
# name: q1
# points: 4

# %% [markdown]
# ## Q1. Compute to reach a loss
#
# Write `compute_to_reach(history, target, axis="flops")`: the compute (on `axis`, `"flops"` or `"tokens"`) at which the run's loss first reaches `target`, or `None` when it never does.
#
# - Validation losses are noisy, so "reached" means the **best loss so far** (the running minimum) is at or below `target`.
# - Between two evaluations, interpolate on the running-minimum curve **linearly in log10(compute)**: if the best loss goes from `b0` at `x0` to `b1` at `x1` and crosses `target` on the way, with `frac = (b0 - target) / (b0 - b1)`, the answer is `10 ** (log10(x0) + frac * (log10(x1) - log10(x0)))`.
# - The first evaluation that reaches the target is the answer itself (nothing to interpolate from), and so is one whose best loss did not change from the evaluation before.
# - An evaluation at zero compute (the first one, at initialisation) has no logarithm: interpolate linearly there.

# %% [raw]
# # BEGIN SOLUTION

# %%
def compute_to_reach(history, target, axis="flops"):
    # BEGIN SOLUTION
    best, lowest = [], math.inf
    for h in history:
        lowest = min(lowest, h["val_loss"])
        best.append((float(h[axis]), lowest))
    for i, (x1, b1) in enumerate(best):
        if b1 > target:
            continue
        if i == 0 or best[i - 1][1] == b1:
            return x1
        x0, b0 = best[i - 1]
        frac = (b0 - target) / (b0 - b1)
        if x0 <= 0:  # no logarithm at zero compute
            return x0 + frac * (x1 - x0)
        return 10 ** (math.log10(x0) + frac * (math.log10(x1) - math.log10(x0)))
    return None
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %%
# Try it: a loss curve that dips, bounces and dips again.
toy = [{"flops": f, "tokens": f / 10, "val_loss": v, "phase": 0}
       for f, v in [(1e6, 3.0), (1e7, 2.0), (1e8, 2.5), (1e9, 1.5)]]
print(compute_to_reach(toy, 2.0), compute_to_reach(toy, 1.8), compute_to_reach(toy, 1.0))

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
""" # END TEST CONFIG
def test_q1_simple(compute_to_reach):
    h = [{"flops": 1e6, "tokens": 1e5, "val_loss": 3.0, "phase": 0},
         {"flops": 1e8, "tokens": 1e7, "val_loss": 1.0, "phase": 0}]
    got = compute_to_reach(h, 2.0)
    assert got is not None, ("the loss goes from 3.0 to 1.0, so it reaches 2.0: compute_to_reach returned "
                             "None, as if it never did")
    assert abs(got / 1e7 - 1) < 1e-6, (
        f"halfway in loss between 1e6 and 1e8 FLOPs should be 1e7 FLOPs (halfway in log10), got {got:.4g}: "
        "interpolate log10(flops) linearly, not the FLOPs themselves")
    assert compute_to_reach(h, 0.5) is None, "the loss never gets to 0.5: the answer must be None"

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q1_running_minimum(compute_to_reach):
    h = [{"flops": 1e6, "tokens": 2e5, "val_loss": 3.0, "phase": 0},
         {"flops": 1e7, "tokens": 2e6, "val_loss": 2.0, "phase": 0},
         {"flops": 1e8, "tokens": 2e7, "val_loss": 2.5, "phase": 0},
         {"flops": 1e9, "tokens": 2e8, "val_loss": 1.5, "phase": 0}]
    got = compute_to_reach(h, 1.8)
    want = 10 ** (8 + 0.4)
    assert got is not None and abs(got / want - 1) < 1e-6, (
        f"a noisy curve (3.0, 2.0, 2.5, 1.5 at 1e6..1e9 FLOPs) reaches 1.8 at {want:.4g} FLOPs, got {got}: "
        "interpolate on the best loss so far (2.0 at 1e8, not the 2.5 measured there)")
    got = compute_to_reach(h, 2.0)
    assert got is not None and abs(got / 1e7 - 1) < 1e-9, (
        f"the loss is exactly 2.0 at 1e7 FLOPs: 2.0 is reached there, got {got}")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q1_unseen_records(compute_to_reach):
    import math
    import random

    def reference(h, target, axis):  # the task's rule, written out (growkit's own is off while grading)
        best, lowest = [], math.inf
        for e in h:
            lowest = min(lowest, e["val_loss"])
            best.append((float(e[axis]), lowest))
        for i, (x1, b1) in enumerate(best):
            if b1 <= target:
                if i == 0 or best[i - 1][1] == b1:
                    return x1
                x0, b0 = best[i - 1]
                frac = (b0 - target) / (b0 - b1)
                return x0 + frac * (x1 - x0) if x0 <= 0 else x0 * (x1 / x0) ** frac
        return None

    rng = random.Random(12)
    for _ in range(40):
        flops, loss, h = 0.0, 4.0, []
        for _ in range(rng.randint(2, 12)):
            h.append({"flops": flops, "tokens": flops / 7, "val_loss": loss, "phase": 0})
            flops += rng.uniform(1e5, 1e8)
            loss = max(0.5, loss - rng.uniform(-0.2, 0.6))
        target = rng.uniform(0.4, 4.1)
        for axis in ("flops", "tokens"):
            want, got = reference(h, target, axis), compute_to_reach(h, target, axis)
            ok = (got is None) if want is None else (got is not None and abs(got - want) <= 1e-6 * max(1.0, want))
            assert ok, (f"a held-out curve, losses {[round(e['val_loss'], 3) for e in h]} at {axis} "
                        f"{[round(e[axis]) for e in h]}: target {target:.3f} is reached at {want} but you "
                        f"return {got} (check the evaluation at zero compute, and reading the `axis` key)")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q1_never_and_first(compute_to_reach):
    h = [{"flops": 0.0, "tokens": 0, "val_loss": 2.0, "phase": 0},
         {"flops": 5e6, "tokens": 1e5, "val_loss": 1.0, "phase": 0}]
    got = compute_to_reach(h, 2.5)
    assert got is not None and abs(got) < 1e-9, ("the run starts at loss 2.0, below the target 2.5: it reached it at "
                                             "its first evaluation, at zero compute, got " + repr(got))
    got = compute_to_reach(h, 1.5)
    assert got is not None and abs(got - 2.5e6) < 1e-3, (
        f"from loss 2.0 at zero FLOPs to 1.0 at 5e6, the target 1.5 is reached at 2.5e6 (linear: there is no "
        f"log of zero), got {got}")
    assert compute_to_reach(h, 0.9) is None, "the best loss is 1.0: a target of 0.9 is never reached (None)"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2
# points: 3

# %% [markdown]
# ## Q2. The speedup
#
# Write `speedup(scratch, grown)`, two `Record`s: the target is the scratch run's **final** validation loss (its last evaluation); return `C_scratch / C_grown - 1` in **FLOPs** (the course compares compute, not tokens: a grown run's small phase processes tokens much more cheaply). Return `None` when there is no speedup to report: the grown run never reaches the target, or it was already at or below it at zero compute (no ratio means anything then).

# %% [raw]
# # BEGIN SOLUTION

# %%
def speedup(scratch, grown):
    # BEGIN SOLUTION
    target = scratch.history[-1]["val_loss"]
    c_scratch = compute_to_reach(scratch.history, target, "flops")
    c_grown = compute_to_reach(grown.history, target, "flops")
    if c_grown is None or c_grown <= 0:
        return None
    return c_scratch / c_grown - 1
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
""" # END TEST CONFIG
def test_q2_doubles(speedup):
    from growkit import Record
    scratch = Record("scratch", history=[{"flops": 1e6, "tokens": 1e4, "val_loss": 3.0, "phase": 0},
                                         {"flops": 4e6, "tokens": 4e4, "val_loss": 2.0, "phase": 0}])
    grown = Record("grown", history=[{"flops": 1e6, "tokens": 2e4, "val_loss": 3.0, "phase": 0},
                                     {"flops": 2e6, "tokens": 3e4, "val_loss": 2.0, "phase": 1}])
    got = speedup(scratch, grown)
    assert got is not None and abs(got - 1.0) < 1e-9, (
        f"scratch needs 4e6 FLOPs to reach its final loss 2.0, the grown run 2e6: the speedup is 4e6 / 2e6 - 1 = "
        f"+100%, got {got}")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q2_flops_not_tokens(speedup):
    from growkit import Record
    scratch = Record("scratch", history=[{"flops": 0.0, "tokens": 0, "val_loss": 4.5, "phase": 0},
                                         {"flops": 6e8, "tokens": 1e5, "val_loss": 2.2, "phase": 0},
                                         {"flops": 1.2e9, "tokens": 2e5, "val_loss": 1.9, "phase": 0}])
    grown = Record("grown", history=[{"flops": 0.0, "tokens": 0, "val_loss": 4.5, "phase": 0},
                                     {"flops": 2e8, "tokens": 1e5, "val_loss": 2.4, "phase": 0},
                                     {"flops": 8e8, "tokens": 2e5, "val_loss": 1.8, "phase": 1}])
    # Scratch reaches its final loss 1.9 at 1.2e9 FLOPs (2e5 tokens); the grown run's best loss crosses 1.9 at
    # frac 5/6 of the way from 2.4 to 1.8, in log10 of FLOPs (2e8 -> 8e8) and of tokens (1e5 -> 2e5).
    want = 1.2e9 / (2e8 * 4 ** (5 / 6)) - 1
    in_tokens = 2e5 / (1e5 * 2 ** (5 / 6)) - 1
    got = speedup(scratch, grown)
    assert got is not None and abs(got - want) < 1e-6, (
        f"held-out records: the speedup in FLOPs is {want:+.4f}, you return {got}"
        + (f" (that is the speedup in tokens, {in_tokens:+.4f}: the course measures compute in FLOPs)"
           if got is not None and abs(got - in_tokens) < 1e-6 else ""))

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q2_no_speedup(speedup):
    from growkit import Record
    scratch = Record("scratch", history=[{"flops": 0.0, "tokens": 0, "val_loss": 4.0, "phase": 0},
                                         {"flops": 1e8, "tokens": 1e4, "val_loss": 2.0, "phase": 0}])
    fast = Record("fast", history=[{"flops": 0.0, "tokens": 0, "val_loss": 4.0, "phase": 0},
                                   {"flops": 5e7, "tokens": 1e4, "val_loss": 1.9, "phase": 1}])
    assert speedup(scratch, fast) is not None, (
        "this grown run reaches scratch's final loss 2.0 on half the FLOPs: its speedup is a number, not None")
    never = Record("never", history=[{"flops": 0.0, "tokens": 0, "val_loss": 4.0, "phase": 0},
                                     {"flops": 1e8, "tokens": 1e4, "val_loss": 2.3, "phase": 1}])
    assert speedup(scratch, never) is None, (
        "the grown run's best loss is 2.3, scratch's final loss 2.0: it never gets there, so there is no "
        "speedup: return None (not a number)")
    start = Record("start", history=[{"flops": 0.0, "tokens": 0, "val_loss": 1.5, "phase": 0},
                                     {"flops": 1e8, "tokens": 1e4, "val_loss": 1.2, "phase": 1}])
    assert speedup(scratch, start) is None, (
        "this grown run is below scratch's final loss at its first evaluation, at zero FLOPs: C_grown = 0 "
        "and no ratio means anything: return None")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q3
# points: 3

# %% [markdown]
# ## Q3. Whose speedup is it?
#
# A grown run's FLOPs count its small phase. When the small model *alone* already reaches scratch's final loss before growth, the "speedup" is the small model's, not growth's. Write `verdict(scratch, grown)` returning one of four strings:
#
# - `"never reached"`: the grown run never reaches scratch's final loss (or reached it at zero compute: no speedup either way);
# - `"reached before growth"`: it does, and the evaluations **before growth** (every phase but the grown run's last one) already reach it;
# - `"growth speedup"`: it reaches it only after growth, with a speedup > 0;
# - `"growth slowdown"`: only after growth, with a speedup <= 0.

# %% [raw]
# # BEGIN SOLUTION

# %%
def verdict(scratch, grown):
    # BEGIN SOLUTION
    s = speedup(scratch, grown)
    if s is None:
        return "never reached"
    target = scratch.history[-1]["val_loss"]
    final_phase = grown.history[-1]["phase"]
    before = [h for h in grown.history if h["phase"] != final_phase]
    if compute_to_reach(before, target) is not None:
        return "reached before growth"
    return "growth speedup" if s > 0 else "growth slowdown"
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
""" # END TEST CONFIG
def test_q3_answers(verdict):
    from growkit import Record
    scratch = Record("scratch", history=[{"flops": 1e6, "tokens": 1e4, "val_loss": 3.0, "phase": 0},
                                         {"flops": 4e6, "tokens": 4e4, "val_loss": 2.0, "phase": 0}])
    grown = Record("grown", history=[{"flops": 1e6, "tokens": 2e4, "val_loss": 3.0, "phase": 0},
                                     {"flops": 2e6, "tokens": 3e4, "val_loss": 2.0, "phase": 1}])
    got = verdict(scratch, grown)
    allowed = ("never reached", "reached before growth", "growth speedup", "growth slowdown")
    assert got in allowed, f"verdict must return one of {allowed}, got {got!r}"
    assert got == "growth speedup", (f"the grown run reaches 2.0 after growth, twice as fast as scratch: "
                                     f"'growth speedup', got {got!r}")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q3_before_growth(verdict):
    from growkit import Record
    scratch = Record("scratch", history=[{"flops": 1e6, "tokens": 1e4, "val_loss": 3.0, "phase": 0},
                                         {"flops": 8e6, "tokens": 8e4, "val_loss": 2.0, "phase": 0}])
    grown = Record("grown", history=[{"flops": 1e6, "tokens": 4e4, "val_loss": 2.5, "phase": 0},
                                     {"flops": 2e6, "tokens": 8e4, "val_loss": 1.9, "phase": 0},
                                     {"flops": 3e6, "tokens": 9e4, "val_loss": 2.1, "phase": 1},
                                     {"flops": 6e6, "tokens": 1e5, "val_loss": 1.8, "phase": 1}])
    got = verdict(scratch, grown)
    assert got == "reached before growth", (
        f"the small model alone (phase 0) reached scratch's final loss 2.0 at 1.9, before growth: the speedup is "
        f"the small model's, not growth's: 'reached before growth', got {got!r}")
    twice = Record("twice", history=[{"flops": 1e6, "tokens": 4e4, "val_loss": 2.6, "phase": 0},
                                     {"flops": 2e6, "tokens": 8e4, "val_loss": 2.3, "phase": 1},
                                     {"flops": 3e6, "tokens": 9e4, "val_loss": 1.9, "phase": 1},
                                     {"flops": 6e6, "tokens": 1e5, "val_loss": 1.8, "phase": 2}])
    got = verdict(scratch, twice)
    assert got == "reached before growth", (
        f"a run that grew twice (phases 0, 1, 2) reached 2.0 in phase 1, before its last growth: 'reached before "
        f"growth' (which evaluations count as before growth when there are three phases?), got {got!r}")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q3_never_and_slower(verdict):
    from growkit import Record
    scratch = Record("scratch", history=[{"flops": 1e6, "tokens": 1e4, "val_loss": 3.0, "phase": 0},
                                         {"flops": 4e6, "tokens": 4e4, "val_loss": 2.0, "phase": 0}])
    slow = Record("slow", history=[{"flops": 1e6, "tokens": 2e4, "val_loss": 3.0, "phase": 0},
                                   {"flops": 2e6, "tokens": 3e4, "val_loss": 2.6, "phase": 1},
                                   {"flops": 8e6, "tokens": 9e4, "val_loss": 1.9, "phase": 1}])
    got = verdict(scratch, slow)
    assert got == "growth slowdown", (f"this grown run reaches 2.0 only after growth and needs more FLOPs than "
                                      f"scratch: 'growth slowdown', got {got!r}")
    never = Record("never", history=[{"flops": 1e6, "tokens": 2e4, "val_loss": 3.0, "phase": 0},
                                     {"flops": 4e6, "tokens": 3e4, "val_loss": 2.4, "phase": 1}])
    got = verdict(scratch, never)
    assert got == "never reached", f"best loss 2.4 never reaches 2.0: 'never reached', got {got!r}"
    level = Record("level", history=[{**e, "phase": 0} for e in scratch.history[:1]]
                   + [{**e, "phase": 1} for e in scratch.history[1:]])
    got = verdict(scratch, level)
    assert got == "growth slowdown", (
        f"this grown run reaches 2.0 after growth on exactly scratch's FLOPs: a speedup of 0 is no speedup "
        f"('growth slowdown' covers speedup <= 0), got {got!r}")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# Your numbers on a real comparison: the course's own `growkit.speedup.speedup` does the same computation (with more bookkeeping). If you trained runs in the course notebooks, load two records with `Record.load(path)` and compare your `speedup` with it.
