"""Segmentation against frames of known geometry: discs and bars drawn analytically on a lit belt."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sorter.vision.evaluation import score_frame
from sorter.vision.segmentation import Segmenter, _solidity, split_at_necks
from tests.support.belt_scenes import PX_PER_MM, fitted, scene


def test_separate_pieces_found_with_their_drawn_area(segmenter_empty):
    shapes = [("disc", 100, 100, 40, (200, 200, 195)), ("bar", 300, 60, 120, 30, (40, 90, 170)),
              ("disc", 500, 250, 25, (25, 25, 25)), ("bar", 150, 250, 60, 60, (60, 160, 190))]
    img, labels, masks = scene(shapes)
    dets = fitted(segmenter_empty).segment(img)
    score = score_frame(labels, dets)
    assert score.n_detected == 4 and score.true_positives == 4
    assert min(iou for *_, iou in score.matches) > 0.9
    for t, d, _ in score.matches:
        drawn_mm2 = masks[t].sum() / PX_PER_MM**2
        # the analytic area of the drawn shape (a rasterised circle is within a pixel ring of pi r^2)
        shape = shapes[t]
        analytic = (np.pi * shape[3] ** 2 if shape[0] == "disc" else shape[3] * shape[4]) / PX_PER_MM**2
        assert drawn_mm2 == pytest.approx(analytic, rel=0.04)
        assert dets[d].area_px / PX_PER_MM**2 == pytest.approx(analytic, rel=0.06)


def test_shadows_and_a_brighter_lamp_are_not_pieces(segmenter_empty):
    img, labels, _ = scene([("disc", 320, 180, 50, (210, 210, 205))], gain=1.25)
    dets = fitted(segmenter_empty).segment(img)
    assert len(dets) == 1
    assert score_frame(labels, dets).matches[0][2] > 0.9


@pytest.mark.parametrize("refine", [0.0, 0.99])
def test_touching_discs_are_split(segmenter_empty, refine):
    """Also through the full-resolution path (solidity of two touching discs is below 0.99)."""
    shapes = [("disc", 250, 180, 45, (200, 200, 195)), ("disc", 335, 180, 42, (60, 150, 200))]
    img, labels, _ = scene(shapes, shadow=False)
    dets = fitted(segmenter_empty, refine_solidity=refine).segment(img)
    score = score_frame(labels, dets)
    assert score.n_detected == 2 and score.true_positives == 2
    assert min(iou for *_, iou in score.matches) > 0.85


def test_a_bar_touching_a_disc_is_cut_at_the_neck():
    blob = np.zeros((200, 300), np.uint8)
    cv2.circle(blob, (90, 100), 60, 1, -1)
    cv2.rectangle(blob, (148, 90), (290, 110), 1, -1)
    parts = split_at_necks(blob, 4.0, 1.6, 100)
    assert len(parts) == 2
    areas = sorted(int(p.sum()) for p in parts)
    assert areas[0] == pytest.approx(140 * 21, rel=0.15)


def test_an_l_profile_stays_whole():
    blob = np.zeros((200, 200), np.uint8)
    cv2.rectangle(blob, (20, 20), (180, 50), 1, -1)
    cv2.rectangle(blob, (20, 20), (50, 180), 1, -1)
    assert len(split_at_necks(blob, 4.0, 1.6, 100)) == 1


def test_solidity_of_a_disc_and_an_l_by_hand():
    disc = np.zeros((120, 120), np.uint8)
    cv2.circle(disc, (60, 60), 50, 1, -1)
    assert _solidity(disc) == pytest.approx(1.0, abs=0.03)
    blob = np.zeros((200, 200), np.uint8)
    cv2.rectangle(blob, (20, 20), (180, 50), 1, -1)
    cv2.rectangle(blob, (20, 20), (50, 180), 1, -1)
    # L of 161x31 + 31x130 px; hull: the 161x161 square less the corner triangle of legs 130
    assert _solidity(blob) == pytest.approx((161 * 31 + 31 * 130) / (161**2 - 130**2 / 2), rel=0.03)


def t_pair(gap_px: int):
    """A bar and a second bar against its side, ``gap_px`` of belt between them: a blob of low solidity."""
    return [("bar", 200, 100, 40, 200, (200, 200, 195)), ("bar", 240 + gap_px, 180, 150, 40, (190, 195, 200))]


@pytest.mark.parametrize("gap", [3, 5])
def test_the_full_resolution_pass_finds_the_pieces_where_they_lie(segmenter_empty, gap):
    """Two bars a few pixels apart close into one T-shaped blob at half resolution (the coarse split
    then loses their edges); refined, each comes back in frame coordinates with its drawn box and area."""
    img, labels, _ = scene(t_pair(gap), shadow=False)
    coarse = score_frame(labels, fitted(segmenter_empty, outline_band_px=0).segment(img))
    dets = fitted(segmenter_empty, refine_solidity=0.75).segment(img)
    score = score_frame(labels, dets)
    assert score.n_detected == 2 and score.true_positives == 2
    assert min(iou for *_, iou in score.matches) > 0.97
    assert min(iou for *_, iou in score.matches) > min((iou for *_, iou in coarse.matches), default=0.0)
    for t, d, _ in score.matches:
        shape = t_pair(gap)[t]
        assert dets[d].area_px == pytest.approx(shape[3] * shape[4], rel=0.03)
        x, y, w, h = dets[d].bbox
        assert abs(x - shape[1]) <= 1 and abs(y - shape[2]) <= 1
        assert abs(w - shape[3]) <= 2 and abs(h - shape[4]) <= 2


def test_the_full_resolution_pass_leaves_a_concave_piece_whole(segmenter_empty):
    """An L-profile (one piece, solidity about 0.6) refined is still one piece."""
    img, labels, _ = scene([("bar", 200, 100, 200, 40, (200, 200, 195)), ("bar", 200, 140, 40, 150, (200, 200, 195))],
                           shadow=False)
    labels[labels > 0] = 1
    for refine in (0.0, 0.75, 0.99):
        score = score_frame(labels, fitted(segmenter_empty, refine_solidity=refine).segment(img))
        assert score.n_detected == 1 and score.true_positives == 1 and score.matches[0][2] > 0.9


def test_refinement_only_where_solidity_is_low(segmenter_empty, monkeypatch):
    """Convex pieces never take the (costlier) full-resolution path; a low-solidity blob does."""
    calls = []
    seg = fitted(segmenter_empty, refine_solidity=0.75)
    real = seg._refine
    monkeypatch.setattr(seg, "_refine", lambda *a: calls.append(a[1:3]) or real(*a))
    img, _, _ = scene([("disc", 100, 100, 40, (200, 200, 195)), ("bar", 300, 60, 120, 30, (40, 90, 170))])
    assert len(seg.segment(img)) == 2 and calls == []
    img, _, _ = scene(t_pair(3), shadow=False)
    assert len(seg.segment(img)) == 2 and len(calls) == 1


def test_without_empty_belt_the_frame_teaches_the_belt():
    img, labels, _ = scene([("disc", 120, 120, 35, (200, 200, 195)), ("bar", 380, 200, 150, 40, (30, 30, 140))])
    seg = Segmenter(min_area_px=100).fit_from_frame(img)
    score = score_frame(labels, seg.segment(img))
    assert score.true_positives == 2 and score.n_detected == 2


def test_two_touching_squares_of_similar_grey_come_out_as_two(segmenter_empty):
    """The brief's hand-built frame: two squares of a similar bright grey against each other (a neck on both
    sides of the contact), and the segmenter with its merge step finds two pieces, not one nor three."""
    shapes = [("bar", 200, 120, 80, 80, (200, 200, 196)), ("bar", 280, 150, 70, 70, (180, 185, 190))]
    img, labels, _ = scene(shapes, shadow=False)
    dets = fitted(segmenter_empty).segment(img)
    score = score_frame(labels, dets)
    assert score.n_detected == 2 and score.true_positives == 2
    assert min(iou for *_, iou in score.matches) > 0.85


def test_merge_off_leaves_the_split_alone(segmenter_empty):
    shapes = [("bar", 200, 120, 80, 80, (200, 200, 196)), ("bar", 280, 150, 70, 70, (180, 185, 190))]
    img, _, _ = scene(shapes, shadow=False)
    seg = Segmenter(min_area_px=100, merge=False).fit(segmenter_empty)
    assert len(seg.segment(img)) == 2


def test_a_blurred_wire_is_outlined_at_full_resolution(segmenter_empty):
    """A copper-coloured bar 8 px wide, blurred 5 px along the belt: the full-resolution outline of thin
    blobs (the mix of piece and belt colour at one half) fits the drawn bar better than the upsampled
    half-resolution mask, and its area is the drawn one within a tenth."""
    img, labels, _ = scene([("bar", 150, 150, 300, 8, (60, 120, 190)), ("bar", 540, 60, 8, 200, (60, 120, 190))],
                           shadow=False)
    img = cv2.blur(img, (5, 1))
    ious = {}
    for thin in (0.0, 3.5):
        seg = fitted(segmenter_empty, refine_thin_px=thin, outline_band_px=0)
        score = score_frame(labels, seg.segment(img))
        assert score.n_detected == 2 and score.true_positives == 2
        ious[thin] = np.mean([iou for *_, iou in score.matches])
        if thin:
            dets = seg.segment(img)
            for t, d, _ in score.matches:
                assert dets[d].area_px == pytest.approx((labels == t + 1).sum(), rel=0.1)
    assert ious[3.5] > ious[0.0] + 0.02
