"""Scoring detections against the truth: only the pieces big enough to see count."""

from __future__ import annotations

from sorter.vision.evaluation import FrameScore, summarise, visible_only


def test_slivers_and_their_matches_count_neither_way():
    """Four true pieces, one a 40 mm2 sliver; five detections, one matching the sliver and one matching nothing."""
    truth = [{"visible_area_mm2": a} for a in (500.0, 40.0, 800.0, 300.0)]
    score = FrameScore(4, 5, [(0, 0, 0.9), (1, 1, 0.8), (2, 3, 0.7)])
    big = visible_only(score, truth, 100.0)
    assert (big.n_truth, big.n_detected) == (3, 4)
    assert big.matches == [(0, 0, 0.9), (2, 3, 0.7)]
    s = summarise([big])
    assert s["recall"] == 2 / 3 and s["precision"] == 2 / 4
    assert s["mean_mask_iou"] == (0.9 + 0.7) / 2
    # nothing below the floor: the score is unchanged
    assert visible_only(score, truth, 0.0) == score
