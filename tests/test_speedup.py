import math

import pytest

from growkit import Record, speedup
from growkit.speedup import compute_to_reach, guideline_tokens


def curve(name, points, tokens_per_flop=1e-6, n_params=1000):
    """A record whose loss follows the given (flops, loss) points."""
    return Record(name=name, history=[{"step": i, "phase": 0, "flops": f, "tokens": f * tokens_per_flop,
                                       "val_loss": loss, "train_loss": None, "lr": 0.0, "wall_s": 0.0}
                                      for i, (f, loss) in enumerate(points)],
                  phases=[{"n_params": n_params}])


def test_known_answer_on_log_flops_axis():
    scratch = curve("scratch", [(0, 4.0), (1e9, 3.0), (1e10, 2.0)])
    # The grown curve crosses 2.0 halfway (in log10) between 1e8 and 1e10, i.e. at 1e9.
    grown = curve("grown", [(0, 4.0), (1e8, 2.5), (1e10, 1.5)])
    sp = speedup(scratch, grown)
    assert sp.target_loss == 2.0
    assert sp.grown_flops == pytest.approx(1e9)
    assert sp.flops == pytest.approx(10 - 1)  # C_scratch / C_grown - 1 = 1e10 / 1e9 - 1
    assert sp.tokens == pytest.approx(9)


def test_tokens_are_reported_separately_from_flops():
    scratch = curve("scratch", [(1e9, 3.0), (1e10, 2.0)], tokens_per_flop=1e-6)
    grown = curve("grown", [(1e9, 3.0), (5e9, 2.0)], tokens_per_flop=2e-6)  # cheaper tokens
    sp = speedup(scratch, grown)
    assert sp.flops == pytest.approx(1.0)
    # Both reach the target after 1e4 tokens: half the FLOPs, but no saving in tokens.
    assert sp.tokens == pytest.approx(0.0, abs=1e-9)


def test_never_reaching_gives_no_number_but_the_reason():
    scratch = curve("scratch", [(1e9, 3.0), (1e10, 2.0)])
    grown = curve("grown", [(1e9, 3.0), (1e10, 2.2)])
    sp = speedup(scratch, grown)
    assert not sp.reached and sp.flops is None and sp.tokens is None
    assert "never reached" in sp.reason and "2.2000" in sp.reason
    assert "no speedup" in str(sp)


def test_noisy_curves_use_the_best_loss_so_far():
    # A bump back up after reaching the target does not un-reach it.
    r = curve("noisy", [(1e8, 3.0), (1e9, 1.9), (1e10, 2.3), (1e11, 2.0)])
    assert compute_to_reach(r, 2.0) < 1e9


def grown_curve(small_points, grown_points):
    """A two-phase record: the small model's evaluations, then the grown model's."""
    rec = curve("grown", small_points + grown_points)
    for h in rec.history[len(small_points):]:
        h["phase"] = 1
    return rec


def test_reaching_the_target_before_growth_is_flagged_and_measured_again_after():
    scratch = curve("scratch", [(1e9, 3.0), (1e10, 2.0)])
    # The small model alone gets below scratch's final loss at 1e9; growing bumps the loss
    # up and the grown model gets back to 2.0 only at scratch's own compute.
    grown = grown_curve([(1e8, 2.5), (1e9, 1.9)], [(1.1e9, 2.6), (1e10, 2.0)])
    sp = speedup(scratch, grown)
    assert sp.reached_before_growth
    assert sp.flops > 5  # the whole-run number credits the small phase
    assert sp.flops_after_growth == pytest.approx(0.0)
    assert "BEFORE growth" in str(sp) and "+0.0%" in str(sp)


def test_a_speedup_earned_after_growth_is_the_same_either_way():
    scratch = curve("scratch", [(1e9, 3.0), (1e10, 2.0)])
    grown = grown_curve([(1e8, 3.5), (1e9, 2.8)], [(1.1e9, 2.7), (5e9, 2.0)])
    sp = speedup(scratch, grown)
    assert not sp.reached_before_growth
    assert sp.flops == pytest.approx(sp.flops_after_growth) == pytest.approx(1.0)
    assert "BEFORE" not in str(sp)


def test_unknown_phase_selection_names_the_choices():
    with pytest.raises(ValueError, match="after_growth"):
        compute_to_reach(curve("x", [(1e9, 3.0)]), 2.0, phases="after")


def test_growth_slowdown_is_negative():
    scratch = curve("scratch", [(1e9, 3.0), (1e10, 2.0)])
    grown = curve("grown", [(1e9, 3.0), (1e10, 2.1), (2e10, 2.0)])
    assert speedup(scratch, grown).flops == pytest.approx(-0.5)


def test_guideline_formula():
    # log10(d) = 0.88 log10(N) + 163.27 / log10(C) - 5.74
    N, C = 7e9, 1e22
    expected = 0.88 * math.log10(N) + 163.27 / 22 - 5.74
    assert math.log10(guideline_tokens(N, C)) == pytest.approx(expected)


def test_guideline_asks_for_the_budget_it_says_it_does():
    from growkit.speedup import PAPER_POINT, guideline_break_even, guideline_fraction

    # The paper's own 7B point sits at a couple of percent of its budget.
    paper = guideline_fraction(PAPER_POINT["params"], PAPER_POINT["flops"])
    assert 0.005 < paper < 0.05
    n = guideline_break_even(80.0)
    assert guideline_fraction(n, 6 * 80 * n * n) == pytest.approx(1.0, rel=1e-6)
    assert guideline_fraction(n / 10, 6 * 80 * n * n / 100) > 1  # smaller targets: more than it all
