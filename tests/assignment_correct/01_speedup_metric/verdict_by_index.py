"""'Before growth' as every evaluation before the final phase's first one, found by index."""
# replaces: def verdict(scratch, grown):
# expect: full


def verdict(scratch, grown):
    s = speedup(scratch, grown)
    if s is None:
        return "never reached"
    last = grown.history[-1]["phase"]
    first_of_last = next(i for i, h in enumerate(grown.history) if h["phase"] == last)
    if compute_to_reach(grown.history[:first_of_last], scratch.final_val_loss) is not None:
        return "reached before growth"
    return "growth speedup" if s > 0 else "growth slowdown"
