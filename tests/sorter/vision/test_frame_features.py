"""Camera features: a frame's at once equal one piece's at a time, by hand on flat patches, LBP by its definition."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sorter.vision import features
from sorter.vision.features import FEATURE_NAMES, N_FEATURES, frame_features, lbp_codes, piece_features
from sorter.vision.segmentation import Detection, Segmenter
from sorter.vision.synthesis import Belt, SceneSettings, empty_frames

PX_PER_MM = 1.5


def reference_features(image, belt, det, px_per_mm):
    """The features of one piece written out plainly (numpy, one crop, float64 sums): the definition
    that the frame-at-once code must reproduce."""
    x, y, w, h = det.bbox
    crop, mask = image[y:y + h, x:x + w], det.mask
    s = max(1, int(np.ceil(max(w, h) / features._MAX_SIDE)))
    if s > 1:
        crop = cv2.resize(crop, (max(w // s, 3), max(h // s, 3)), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask.astype(np.uint8), crop.shape[1::-1], interpolation=cv2.INTER_NEAREST) > 0
    if mask.sum() < 4:
        mask = np.ones(crop.shape[:2], bool)
    H, W = image.shape[:2]
    by = min(int((y + h / 2) * belt.shape[0] / H), belt.shape[0] - 1)
    bx = min(int((x + w / 2) * belt.shape[1] / W), belt.shape[1] - 1)
    ratio = crop.astype(np.float32) * (1.0 / np.maximum(belt[by, bx].astype(np.float32), 1.0))
    opp = ratio.astype(np.float64) @ features._OPPONENT.T.astype(np.float64)
    light, rg, yb = opp[..., 0], opp[..., 1], opp[..., 2]
    inv = 1.0 / np.maximum(light, 0.05)
    sat = np.hypot(rg, yb) * inv
    r, o, sm = ratio[mask].astype(np.float64), opp[mask], sat[mask]
    chroma = r.mean(0) / max(r.mean(0).sum(), 1e-6)
    wsum = max(sm.sum(), 1e-6)
    colour = [*r.mean(0), *r.std(0), chroma[0], chroma[2], *o.mean(0), *o.std(0), sm.mean(), sm.std(),
              (rg * inv)[mask].sum() / wsum, (yb * inv)[mask].sum() / wsum,
              (light[mask] < features.DARK_RATIO).mean(), (light[mask] > features.SPECULAR_RATIO).mean()]
    hist = np.zeros(10)
    if min(light.shape) >= 3:
        codes = lbp_reference(light.astype(np.float32))[mask[1:-1, 1:-1]]
        hist = np.bincount(codes, minlength=10) / max(codes.size, 1)
    c = det.contour
    area = max(det.area_px, 1.0)
    (_, _), (rw, rh), _ = cv2.minAreaRect(c)
    hu = cv2.HuMoments(cv2.moments(c)).ravel()
    shape = [np.log10(area / px_per_mm**2), 2 * area / max(cv2.arcLength(c, True), 1.0) / px_per_mm,
             min(area / max(cv2.contourArea(cv2.convexHull(c)), 1.0), 1.0),
             np.log(max(rw, rh) / max(min(rw, rh), 1.0)), min(area / max(rw * rh, 1.0), 1.5),
             *np.clip(-np.sign(hu) * np.log10(np.abs(hu) + 1e-30), -30, 30)]
    return np.array([*colour, *hist, *shape])


def lbp_reference(g: np.ndarray) -> np.ndarray:
    """Rotation-invariant uniform LBP (P=8, R=1), pixel by pixel: the number of neighbours >= the centre when
    the circular pattern has at most two 0/1 transitions, else 9."""
    h, w = g.shape
    out = np.zeros((h - 2, w - 2), np.intp)
    ring = [(-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1)]
    for i in range(1, h - 1):
        for j in range(1, w - 1):
            bits = [int(g[i + dy, j + dx] >= g[i, j]) for dy, dx in ring]
            turns = sum(bits[k] != bits[k - 1] for k in range(8))
            out[i - 1, j - 1] = sum(bits) if turns <= 2 else 9
    return out


@pytest.fixture(scope="module")
def frame_and_detections():
    s = SceneSettings.training()
    frame = next(iter(Belt(s, 31, 1).frames()))
    seg = Segmenter().fit(empty_frames(s, 31, 2))
    dets = seg.segment(frame.image)
    assert len(dets) >= 5
    return frame.image, seg.background_, dets


def test_a_frame_at_once_equals_the_definition_piece_by_piece(frame_and_detections):
    image, belt, dets = frame_and_detections
    X = frame_features(image, belt, dets, PX_PER_MM)
    assert X.shape == (len(dets), N_FEATURES) and X.dtype == np.float32
    ref = np.stack([reference_features(image, belt, d, PX_PER_MM) for d in dets])
    lbp = [i for i, n in enumerate(FEATURE_NAMES) if n.startswith("lbp_")]
    np.testing.assert_array_equal(X[:, lbp], ref[:, lbp].astype(np.float32))
    np.testing.assert_allclose(X, ref, rtol=1e-5, atol=1e-5)


def test_a_piece_does_not_depend_on_the_others_nor_their_order(frame_and_detections):
    image, belt, dets = frame_and_detections
    X = frame_features(image, belt, dets, PX_PER_MM)
    order = np.random.default_rng(0).permutation(len(dets))
    np.testing.assert_allclose(frame_features(image, belt, [dets[i] for i in order], PX_PER_MM), X[order],
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(piece_features(image, belt, dets[2], PX_PER_MM), X[2], rtol=1e-6, atol=1e-6)
    assert frame_features(image, belt, [], PX_PER_MM).shape == (0, N_FEATURES)


def test_the_wide_histogram_path_counts_the_same(frame_and_detections, monkeypatch):
    image, belt, dets = frame_and_detections
    X = frame_features(image, belt, dets, PX_PER_MM)
    monkeypatch.setattr(features, "_HIST16_KEYS", 0)   # as for a frame of more than 5,957 pieces
    np.testing.assert_array_equal(frame_features(image, belt, dets, PX_PER_MM), X)


def flat_piece(x, y, w, h):
    mask = np.ones((h, w), bool)
    contour = np.array([[[x, y]], [[x, y + h - 1]], [[x + w - 1, y + h - 1]], [[x + w - 1, y]]], np.int32)
    return Detection((x, y, w, h), (x + (w - 1) / 2, y + (h - 1) / 2), float(w * h), mask, contour, (False, False))


def test_flat_patches_by_hand():
    """Flat colours on a flat belt (60, 80, 100): the ratios are the colours over the belt's, nothing varies, every
    texture code is 'all neighbours equal' (8), and a 40 x 20 px rectangle at 1.5 px/mm is 355.6 mm2."""
    belt_bgr = np.float32([60, 80, 100])
    image = np.empty((120, 200, 3), np.uint8)
    image[:] = belt_bgr.astype(np.uint8)
    image[10:30, 10:50] = (30, 80, 150)      # ratio 0.5, 1.0, 1.5
    image[50:90, 100:130] = (15, 20, 25)     # ratio 0.25 everywhere: dark
    belt = np.broadcast_to(belt_bgr, (60, 100, 3)).astype(np.float32)
    X = frame_features(image, belt, [flat_piece(10, 10, 40, 20), flat_piece(100, 50, 30, 40)], PX_PER_MM)
    f = dict(zip(FEATURE_NAMES, X[0], strict=True))
    np.testing.assert_allclose([f["ratio_b"], f["ratio_g"], f["ratio_r"]], [0.5, 1.0, 1.5], rtol=1e-6)
    np.testing.assert_allclose([f["ratio_std_b"], f["opp_light_std"], f["saturation_std"]], 0.0, atol=1e-6)
    np.testing.assert_allclose([f["chroma_b"], f["chroma_r"]], [0.5 / 3, 1.5 / 3], rtol=1e-6)
    np.testing.assert_allclose([f["opp_light"], f["opp_red_green"], f["opp_yellow_blue"]], [1.0, 0.5, 0.75],
                               rtol=1e-6)
    np.testing.assert_allclose(f["saturation"], np.hypot(0.5, 0.75), rtol=1e-6)
    np.testing.assert_allclose([f["hue_cos"], f["hue_sin"]], np.array([0.5, 0.75]) / np.hypot(0.5, 0.75), rtol=1e-6)
    assert f["dark_fraction"] == 0 and f["specular_fraction"] == 0
    np.testing.assert_allclose([f[f"lbp_{k}"] for k in range(10)], np.eye(10)[8])
    np.testing.assert_allclose(f["log_area_mm2"], np.log10(800 / 2.25), rtol=1e-6)
    np.testing.assert_allclose(f["solidity"], 1.0)
    dark = dict(zip(FEATURE_NAMES, X[1], strict=True))
    np.testing.assert_allclose([dark["ratio_b"], dark["ratio_g"], dark["ratio_r"]], 0.25, rtol=1e-6)
    assert dark["dark_fraction"] == 1.0 and dark["lbp_8"] == 1.0


def test_slivers_among_pieces_follow_the_definition(frame_and_detections):
    """A piece 2 px wide has no texture codes, one of 3 px (under 4) is read whole; its neighbours keep theirs."""
    image, belt, dets = frame_and_detections
    odd = [flat_piece(5, 5, 2, 9), flat_piece(40, 7, 1, 3), flat_piece(60, 9, 3, 3)]
    mixed = [dets[0], *odd, dets[1]]
    X = frame_features(image, belt, mixed, PX_PER_MM)
    ref = np.stack([reference_features(image, belt, d, PX_PER_MM) for d in mixed])
    np.testing.assert_allclose(X, ref, rtol=1e-5, atol=1e-5)
    lbp = [i for i, n in enumerate(FEATURE_NAMES) if n.startswith("lbp_")]
    assert not X[1:3, lbp].any() and X[3, lbp].sum() == 1.0


def test_a_flat_piece_reads_one_texture_code_wherever_its_crop_lies():
    """On this belt, colour (100, 219, 141) is a brightness that OpenCV's vector loop and its scalar tail round
    one ulp apart: were the tail to end a crop, equal neighbours would differ and the codes would scatter."""
    image = np.empty((60, 80, 3), np.uint8)
    image[:] = (42, 101, 98)
    image[5:14, 5:12] = (100, 219, 141)
    image[30:50, 30:60] = (10, 200, 30)
    belt = np.broadcast_to(np.float32([42, 101, 98]), (30, 40, 3)).astype(np.float32)
    flat, other = flat_piece(5, 5, 7, 9), flat_piece(30, 30, 30, 20)
    lbp = [i for i, n in enumerate(FEATURE_NAMES) if n.startswith("lbp_")]
    for dets in ([flat], [other, flat], [flat, other]):
        X = frame_features(image, belt, dets, PX_PER_MM)
        np.testing.assert_array_equal(X[:, lbp], np.tile(np.eye(10)[8], (len(dets), 1)))


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_lbp_codes_by_their_definition(dtype):
    rng = np.random.default_rng(3)
    g = rng.integers(0, 4, (12, 15)).astype(dtype)   # few levels: many ties, which count as ones
    np.testing.assert_array_equal(lbp_codes(g), lbp_reference(g))
