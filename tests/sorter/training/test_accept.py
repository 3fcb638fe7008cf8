"""The accept bar per grade pair (issue 24, item 7): calibrated on held-out pieces, stated in the card."""

from __future__ import annotations

import numpy as np
import pytest

from sorter.serving.card import Thresholds
from sorter.serving.reject import decide
from sorter.training.accept import calibrate_accept, pieces_needed, wilson_interval

CLASSES = ["5052", "5182", "5754", "6061", "copper"]
FAMILIES = {"5052": "5xxx", "5182": "5xxx", "5754": "5xxx", "6061": "6xxx", "copper": "non-Al"}
GOOD = [500.0, 0.1, 30000.0, 1.0]


def test_wilson_interval_by_hand():
    # 0 wrong of n: lower end n / (n + z^2)
    lo, hi = wilson_interval(100, 100)
    assert lo == pytest.approx(100 / (100 + 1.959964**2)) and hi == pytest.approx(1.0)
    # 95 of 100, by hand: (0.95 + 0.019208 -+ 1.96 sqrt(0.000475 + 0.000096)) / 1.038416
    lo, hi = wilson_interval(95, 100)
    assert (round(lo, 4), round(hi, 4)) == (0.8882, 0.9785)
    assert pieces_needed(0.995) == 765 and wilson_interval(765, 765)[0] >= 0.995 > wilson_interval(764, 764)[0]


def _pair_pieces(rng, n, a, b, sureness, sure_from=1.0):
    """Pieces whose two best grades are a and b: the top one is right with probability its p, and
    always from ``sure_from`` up."""
    P = np.full((n, len(CLASSES)), 1e-6)
    truth = rng.choice([a, b], n)
    p = rng.uniform(*sureness, n)
    right = (rng.uniform(size=n) < p) | (p >= sure_from)
    for i in range(n):
        top = truth[i] if right[i] else (b if truth[i] == a else a)
        other = b if top == a else a
        P[i, CLASSES.index(top)] = p[i]
        P[i, CLASSES.index(other)] = 1.0 - p[i]
    return P / P.sum(axis=1, keepdims=True), truth


def test_a_hard_pair_gets_a_bar_that_keeps_its_accepted_pieces_right():
    rng = np.random.default_rng(3)
    P1, y1 = _pair_pieces(rng, 6000, "5182", "5754", (0.5, 1.0), 0.9)    # often wrong below p 0.9
    P2, y2 = _pair_pieces(rng, 3000, "5052", "6061", (0.999, 1.0), 0.999)  # easy: always right
    cal = calibrate_accept(np.vstack([P1, P2]), np.concatenate([y1, y2]), CLASSES, FAMILIES)
    hard, easy = cal.pairs["5182|5754"], cal.pairs["5052|6061"]
    assert hard.supported and hard.wilson_95[0] >= 0.995 and hard.n_accepted >= pieces_needed()
    assert 0.85 < hard.bar < 0.95 and hard.n_accepted < hard.n_pieces
    assert easy.supported and easy.n_accepted == easy.n_pieces and easy.n_wrong == 0
    # the bars do what they say on the pieces they came from
    q = np.tile(GOOD, (len(P1), 1))
    t = Thresholds(min_top_probability=cal.pooled.bar, pair_min_top_probability=cal.pair_bars,
                   max_ood_distance=5.0, min_al_fraction=0.02, max_non_al_probability=0.05)
    decisions = decide(P1, q, CLASSES, FAMILIES, t)
    accepted = [d for d in decisions if d.decision == "accept"]
    right = sum(d.grade == g for d, g in zip(decisions, y1, strict=True) if d.decision == "accept")
    # the stated bar is rounded up, so the piece that set it (and any within 1e-6 above) may now be refused
    assert right / len(accepted) >= 0.995 and hard.n_accepted - 2 <= len(accepted) <= hard.n_accepted


def test_too_few_pieces_never_claim_the_target():
    rng = np.random.default_rng(4)
    P, y = _pair_pieces(rng, 200, "5182", "5754", (0.5, 1.0))
    cal = calibrate_accept(P, y, CLASSES, FAMILIES)
    pair = cal.pairs["5182|5754"]
    assert not pair.supported and pair.n_wrong == 0   # no wrong piece left above the bar it got


def test_contaminant_pieces_are_left_to_the_contaminant_checks():
    P = np.array([[0.0, 0.0, 0.0, 0.4, 0.6]])
    cal = calibrate_accept(np.vstack([P] * 10), np.array(["copper"] * 10), CLASSES, FAMILIES)
    assert cal.pairs == {} and cal.pooled.n_pieces == 0


def test_a_target_that_is_no_share_is_refused_by_name():
    with pytest.raises(ValueError, match="target"):
        calibrate_accept(np.ones((1, 5)) / 5, np.array(["5182"]), CLASSES, FAMILIES, target=1.5)
