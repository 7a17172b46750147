"""Reads the raw, noisy validation losses instead of the best loss so far: after a bounce it
interpolates from the bad evaluation."""
# replaces: def compute_to_reach(history, target, axis="flops"):
# expect: q1=2/4 q2=3/3 q3=3/3


def compute_to_reach(history, target, axis="flops"):
    points = [(float(h[axis]), h["val_loss"]) for h in history]
    for i, (x1, b1) in enumerate(points):
        if b1 > target:
            continue
        if i == 0 or points[i - 1][1] == b1:
            return x1
        x0, b0 = points[i - 1]
        frac = (b0 - target) / (b0 - b1)
        if x0 <= 0:
            return x0 + frac * (x1 - x0)
        return 10 ** (math.log10(x0) + frac * (math.log10(x1) - math.log10(x0)))
    return None
