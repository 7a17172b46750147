"""Calls growkit's own implementation instead of writing it: off while grading."""
# replaces: def compute_to_reach(history, target, axis="flops"):
# expect: q1=0/4 q2=0/3 q3=0/3
from growkit import Record
from growkit.speedup import compute_to_reach as kit


def compute_to_reach(history, target, axis="flops"):
    return kit(Record("r", history=history), target, axis)
