"""Log-interpolation with math.exp and math.log, and no special case for an unchanged best loss
(the interpolation lands on the evaluation anyway, up to rounding)."""
# replaces: def compute_to_reach(history, target, axis="flops"):
# expect: full


def compute_to_reach(history, target, axis="flops"):
    prev_x, prev_best, best = None, None, math.inf
    for h in history:
        x, best = float(h[axis]), min(best, h["val_loss"])
        if best <= target:
            if prev_x is None or prev_best <= target or prev_best == best:
                return x
            frac = (prev_best - target) / (prev_best - best)
            if prev_x == 0:
                return frac * x
            return math.exp(math.log(prev_x) + frac * (math.log(x) - math.log(prev_x)))
        prev_x, prev_best = x, best
    return None
