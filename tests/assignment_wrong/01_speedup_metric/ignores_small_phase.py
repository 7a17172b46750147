"""Never asks whether the small model alone reached the target before growth: it credits growth
with the small phase's win."""
# replaces: def verdict(scratch, grown):
# expect: q1=4/4 q2=3/3 q3=2/3


def verdict(scratch, grown):
    s = speedup(scratch, grown)
    if s is None:
        return "never reached"
    return "growth speedup" if s > 0 else "growth slowdown"
