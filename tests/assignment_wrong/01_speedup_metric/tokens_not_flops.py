"""The speedup measured in tokens instead of FLOPs: a grown run's small phase processes tokens far
more cheaply, so the two differ, and the course's ledger is in FLOPs."""
# replaces: def speedup(scratch, grown):
# expect: q1=4/4 q2=1/3 q3=3/3


def speedup(scratch, grown):
    target = scratch.history[-1]["val_loss"]
    c_scratch = compute_to_reach(scratch.history, target, "tokens")
    c_grown = compute_to_reach(grown.history, target, "tokens")
    if c_grown is None or c_grown <= 0:
        return None
    return c_scratch / c_grown - 1
