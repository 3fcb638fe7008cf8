"""The blobs of a mask, and the pair model that joins the fragments of one piece."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from sorter.vision.merging import PAIR_FEATURES, MergeModel, pair_table
from sorter.vision.segmentation import blobs


def _reference_blobs(mask: np.ndarray, min_area: float, fill: bool) -> list[np.ndarray]:
    """The same by another method: 8-connected labelling, each blob a full-frame 0/1 image, its holes
    (4-connected belt it encloses) filled by scipy when ``fill``."""
    n, lab = cv2.connectedComponents(mask, connectivity=8)
    out = []
    for i in range(1, n):
        blob = lab == i
        if fill:
            blob = ndimage.binary_fill_holes(blob)
        if blob.sum() >= min_area:
            out.append(blob.astype(np.uint8))
    return out


def _full(oy, ox, b, shape):
    img = np.zeros(shape, np.uint8)
    img[oy:oy + b.shape[0], ox:ox + b.shape[1]] = b
    return img


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(3, 12))
def test_blobs_agree_with_a_labelling(seed, n_shapes):
    """Random discs, rings and bars: the outline-based blobs are the labelling's, with no hole filled or all."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((120, 160), np.uint8)
    for _ in range(n_shapes):
        x, y = int(rng.integers(0, 160)), int(rng.integers(0, 120))
        r = int(rng.integers(3, 20))
        if rng.random() < 0.3:   # a ring: a hole of some size
            cv2.circle(mask, (x, y), r, 255, int(rng.integers(2, 5)))
        elif rng.random() < 0.5:
            cv2.circle(mask, (x, y), r, 255, -1)
        else:
            cv2.rectangle(mask, (x, y), (x + r, y + int(rng.integers(2, 30))), 255, -1)
    for max_hole, fill in ((0, False), (np.inf, True)):
        ours = sorted((_full(oy, ox, b, mask.shape) for oy, ox, b in blobs(mask, 10, max_hole)),
                      key=lambda b: b.tobytes())
        ref = sorted(_reference_blobs(mask, 10, fill), key=lambda b: b.tobytes())
        assert len(ours) == len(ref)
        for a, b in zip(ours, ref, strict=True):
            assert np.array_equal(a, b)


def test_a_small_hole_is_filled_and_a_large_one_kept():
    mask = np.zeros((100, 200), np.uint8)
    cv2.rectangle(mask, (10, 10), (60, 60), 255, -1)
    mask[30:35, 30:35] = 0               # 25 px: a printed can's grey patch
    cv2.circle(mask, (140, 50), 40, 255, 6)   # a ring of wire round a large stretch of belt
    (_, _, a), (_, _, b) = sorted(blobs(mask, 10, 100), key=lambda r: r[1])
    assert a.sum() == 51 * 51
    assert b.sum() == (mask[:, 90:] > 0).sum()


def test_pair_features_by_hand():
    """Two 20x20 squares side by side (contact 20 px), one brighter than the other."""
    window = np.full((40, 60, 3), 100, np.uint8)
    window[:, 30:] = 160
    a = np.zeros((40, 60), np.uint8)
    b = np.zeros((40, 60), np.uint8)
    a[10:30, 10:30] = 1
    b[10:30, 30:50] = 1
    pairs, X = pair_table([a, b], window)
    f = dict(zip(PAIR_FEATURES, X[0], strict=True))
    assert pairs == [(0, 1)]
    assert f["log_area_small"] == pytest.approx(np.log(400))
    assert f["log_area_ratio"] == pytest.approx(0.0)
    # the two dilated squares meet on two columns of 22 px: 44 / 2 = 22 px of contact, over sqrt(400)
    assert f["contact_per_side"] == pytest.approx(22 / 20)
    # grey has no chroma: the step is all lightness; Lab L of grey 100 and 160 (OpenCV scales L to 0-255)
    L = cv2.cvtColor(np.uint8([[[100, 100, 100], [160, 160, 160]]]), cv2.COLOR_BGR2LAB)[0, :, 0].astype(float)
    assert f["colour_step_mean"] == pytest.approx(0.0, abs=0.5)
    assert f["lightness_step_local"] == pytest.approx(abs(L[1] - L[0]) / 2.0, rel=0.05)   # spread floor 2
    # apart, they are not a pair
    b2 = np.zeros_like(b)
    b2[10:30, 35:55] = 1
    assert pair_table([a, b2], window)[0] == []


def test_bundled_model_joins_a_piece_cut_in_two_and_keeps_two_pieces_apart():
    """One grey square cut down the middle is one piece; a grey and a copper square side by side are two."""
    rng = np.random.default_rng(0)
    one = np.clip(np.full((60, 80, 3), 180.0) + rng.normal(0, 3, (60, 80, 3)), 0, 255).astype(np.uint8)
    a = np.zeros((60, 80), np.uint8)
    b = np.zeros((60, 80), np.uint8)
    a[10:50, 10:40] = 1
    b[10:50, 40:70] = 1
    model = MergeModel.bundled()
    assert len(model.merge([a, b], one)) == 1
    two = one.copy()
    two[:, 40:] = (60, 120, 190)   # BGR: copper beside aluminium
    assert len(model.merge([a, b], two)) == 2
