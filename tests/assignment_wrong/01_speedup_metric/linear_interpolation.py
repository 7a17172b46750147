"""Interpolates the compute linearly instead of linearly in log10(compute): between evaluations
decades apart the answer lands far too late."""
# replaces: def compute_to_reach(history, target, axis="flops"):
# expect: q1=1/4 q2=2/3 q3=3/3


def compute_to_reach(history, target, axis="flops"):
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
        return x0 + frac * (x1 - x0)
    return None
