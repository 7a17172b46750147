"""Looks only at phase 0 for 'before growth' (a run that grew twice reached it in phase 1), and
counts a speedup of exactly 0 as a growth speedup."""
# replaces: def verdict(scratch, grown):
# expect: q1=4/4 q2=3/3 q3=1/3


def verdict(scratch, grown):
    s = speedup(scratch, grown)
    if s is None:
        return "never reached"
    target = scratch.history[-1]["val_loss"]
    if compute_to_reach([h for h in grown.history if h["phase"] == 0], target) is not None:
        return "reached before growth"
    return "growth speedup" if s >= 0 else "growth slowdown"
