"""Reports the speedup in tokens: the grown run's cheap small-phase tokens make it look different
from the FLOPs the budget is counted in."""
# replaces: VERDICT = {
# expect: q1=4/4 q2=2/3
VERDICT = {
    "speedup": speedup(scratch, grown).tokens,
    "grown_beats_scratch": grown.final_val_loss < scratch.final_val_loss,
    "grown_beats_small_alone": grown.final_val_loss < small_alone.final_val_loss,
    "target_beats_small_alone": scratch.final_val_loss < small_alone.final_val_loss,
}
