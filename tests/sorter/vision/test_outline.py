"""Outlines placed at full resolution (``place_outline``, ``Segmenter(outline_band_px=...)``): hand-built edges."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sorter.vision.evaluation import score_frame
from sorter.vision.segmentation import Segmenter, place_outline

BELT = (80.0, 79.0, 77.0)
PIECE = (200.0, 190.0, 180.0)


def blurred_square(blur_px: int = 5, piece=PIECE, size: int = 80, lo: int = 20, hi: int = 60):
    """A square piece [lo, hi) x [lo, hi) of colour ``piece`` on an even belt, blurred ``blur_px`` along x (box
    kernel, as a camera's motion blur): (uint8 image, float32 belt model at half resolution, truth 0/1)."""
    truth = np.zeros((size, size), np.uint8)
    truth[lo:hi, lo:hi] = 1
    img = np.where(truth[..., None] > 0, np.float32(piece), np.float32(BELT)).astype(np.float32)
    img = cv2.blur(img, (blur_px, 1), borderType=cv2.BORDER_REPLICATE)
    belt = np.empty((size // 2, size // 2, 3), np.float32)
    belt[:] = BELT
    return np.round(img).astype(np.uint8), belt, truth


def coarse(truth: np.ndarray, dx: int = 1, grow: int = 1) -> np.ndarray:
    """The truth as a half-resolution mask would miss it: shifted ``dx`` px along x and grown ``grow`` px, 0/255."""
    m = np.roll(truth, dx, axis=1)
    m = cv2.dilate(m, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    return m * np.uint8(255)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(((a > 0) & (b > 0)).sum() / ((a > 0) | (b > 0)).sum())


def test_a_blurred_edge_is_placed_where_the_piece_ends():
    """A 5 px box blur leaves the first belt pixel 2/5 piece and the piece's first pixel 3/5: the half-way rule
    puts the outline exactly on the drawn square, from a coarse mask 1 px off and 1 px too large."""
    img, belt, truth = blurred_square()
    mask = coarse(truth)
    out = place_outline(img, belt, 2, mask, None, 2)
    assert out.dtype == np.uint8 and out.shape == truth.shape
    assert iou(mask, truth) < 0.92
    np.testing.assert_array_equal(out > 0, truth > 0)


@pytest.mark.parametrize("piece", [(30.0, 30.0, 30.0), (60.0, 120.0, 190.0)])
def test_darker_and_coloured_pieces_too(piece):
    """The rule reads the mix along the belt-to-piece colour line: a piece darker than the belt and a copper-coloured
    one (mostly a colour difference) come out as drawn, with a 3 px blur."""
    img, belt, truth = blurred_square(3, piece)
    out = place_outline(img, belt, 2, coarse(truth, dx=-1), None, 2)
    np.testing.assert_array_equal(out > 0, truth > 0)


def test_a_pixel_another_piece_holds_is_never_taken():
    img, belt, truth = blurred_square()
    others = np.zeros_like(truth)
    others[:, :22] = 255   # a neighbour holds the square's first two columns
    out = place_outline(img, belt, 2, coarse(truth), others, 2)
    np.testing.assert_array_equal(out > 0, (truth > 0) & (others == 0))


def test_the_outline_moves_at_most_the_band():
    """A coarse mask 4 px too large on every side: a 2 px band takes back 2 px of it, no more."""
    img, belt, truth = blurred_square()
    mask = coarse(truth, dx=0, grow=4)
    out = place_outline(img, belt, 2, mask, None, 2)
    np.testing.assert_array_equal(out > 0, coarse(truth, dx=0, grow=2) > 0)


def test_a_piece_like_the_belt_or_without_interior_keeps_its_mask():
    img, belt, truth = blurred_square(piece=tuple(c + 5 for c in BELT))   # |p - b| = 8.7, within 10 grey levels
    mask = coarse(truth)
    assert place_outline(img, belt, 2, mask, None, 2) is mask
    img, belt, truth = blurred_square(lo=38, hi=42)   # 4 px: nothing deeper than the band
    mask = coarse(truth)
    assert place_outline(img, belt, 2, mask, None, 2) is mask


def test_the_belt_model_follows_the_light_across_the_box():
    """A belt twice as bright on the right as on the left (a steep light gradient): the level is the belt's under
    each pixel, upsampled from half resolution, so both edges still land on the drawn square."""
    size = 80
    truth = np.zeros((size, size), np.uint8)
    truth[20:60, 20:60] = 1
    light = np.linspace(0.7, 1.4, size, dtype=np.float32)[None, :, None]
    img = np.where(truth[..., None] > 0, np.float32(PIECE), np.float32(BELT)) * light
    img = np.round(cv2.blur(img, (3, 1), borderType=cv2.BORDER_REPLICATE)).astype(np.uint8)
    belt = cv2.resize(np.float32(BELT) * np.broadcast_to(light, (size, size, 1)), (size // 2, size // 2),
                      interpolation=cv2.INTER_LINEAR)
    out = place_outline(img, belt, 2, coarse(truth), None, 2)
    assert iou(out, truth) > 0.99


# ---- through the segmenter ------------------------------------------------------------------------

H, W = 240, 400


def frame(shapes, blur_px: int, shape=(H, W), seed: int = 0):
    """Discs and bars (("disc", cx, cy, r, bgr) / ("bar", x, y, w, h, bgr)) on a grey belt with its shadows, blurred
    along x, noisy: (uint8 image, int32 labels, empty-belt frames)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    base = np.empty((h, w, 3), np.float32)
    base[:] = BELT
    img = base.copy()
    labels = np.zeros((h, w), np.int32)
    for i, s in enumerate(shapes, start=1):
        m = np.zeros((h, w), np.uint8)
        if s[0] == "disc":
            cv2.circle(m, (s[1], s[2]), s[3], 1, -1)
        else:
            cv2.rectangle(m, (s[1], s[2]), (s[1] + s[3] - 1, s[2] + s[4] - 1), 1, -1)
        img[np.roll(np.roll(m, 5, 0), 5, 1) > 0] *= 0.75   # its shadow, down and right
        labels[m > 0] = i
    for i, s in enumerate(shapes, start=1):
        img[labels == i] = s[-1]
    img = cv2.blur(img, (blur_px, 1), borderType=cv2.BORDER_REFLECT)

    def finish(x):
        return np.clip(x + rng.normal(0, 2.5, x.shape), 0, 255).astype(np.uint8)

    return finish(img), labels, [finish(base) for _ in range(3)]


SHAPES = [("disc", 80, 70, 30, (200, 200, 195)), ("bar", 180, 40, 90, 24, (40, 90, 170)),
          ("disc", 330, 170, 28, (25, 25, 25)), ("bar", 60, 150, 60, 50, (60, 160, 190)),
          ("disc", 220, 170, 30, (150, 70, 60))]


def test_blurred_pieces_fit_better_with_full_resolution_outlines():
    img, labels, empties = frame(SHAPES, 5)
    ious = {}
    for band in (0, 2):
        seg = Segmenter(min_area_px=100, outline_band_px=band).fit(empties)
        dets = seg.segment(img)
        score = score_frame(labels, dets)
        assert score.n_detected == len(SHAPES) and score.true_positives == len(SHAPES)
        ious[band] = np.mean([iou for *_, iou in score.matches])
        if band:
            for t, d, _ in score.matches:
                assert dets[d].area_px == pytest.approx((labels == t + 1).sum(), rel=0.03)
                assert dets[d].area_px == dets[d].mask.sum()
    assert ious[2] > 0.97
    assert ious[2] > ious[0] + 0.02


def test_touching_pieces_share_no_pixel():
    """Two squares of different colour against each other: each outline is placed, and no pixel is in both."""
    shapes = [("bar", 100, 60, 80, 80, (200, 200, 196)), ("bar", 180, 110, 70, 70, (40, 90, 170))]
    img, labels, empties = frame(shapes, 3)
    dets = Segmenter(min_area_px=100).fit(empties).segment(img)
    assert len(dets) == 2
    claimed = np.zeros((H, W), np.int32)
    for d in dets:
        x, y, w, h = d.bbox
        claimed[y:y + h, x:x + w] += d.mask
    assert claimed.max() == 1
    assert min(iou for *_, iou in score_frame(labels, dets).matches) > 0.9


def test_a_frame_of_odd_size_and_pieces_at_its_edges():
    """An odd frame (the belt model has no last row and column) with pieces cut by its edges."""
    shapes = [("disc", 0, 60, 30, (200, 200, 195)), ("bar", 300, 180, 99, 59, (40, 90, 170))]
    img, labels, empties = frame(shapes, 3, shape=(H - 1, W - 1))
    dets = Segmenter(min_area_px=100).fit(empties).segment(img)
    score = score_frame(labels, dets)
    assert score.true_positives == 2 and min(iou for *_, iou in score.matches) > 0.95


def test_a_blurred_wire_fits_as_well_as_with_the_wire_outlines():
    """A copper-coloured wire 8 px wide blurred 5 px along the belt: the outline band places its edges as the
    wire-only full-resolution pass did (``refine_thin_px``), far better than the upsampled mask."""
    shapes = [("bar", 60, 60, 280, 8, (60, 120, 190)), ("bar", 360, 30, 8, 180, (60, 120, 190))]
    img, labels, empties = frame(shapes, 5)
    ious = {}
    for name, kw in {"upsampled": dict(outline_band_px=0), "wire pass": dict(outline_band_px=0, refine_thin_px=3.5),
                     "band": {}}.items():
        dets = Segmenter(min_area_px=100, **kw).fit(empties).segment(img)
        score = score_frame(labels, dets)
        assert score.n_detected == 2 and score.true_positives == 2
        ious[name] = np.mean([iou for *_, iou in score.matches])
        if name == "band":
            for t, d, _ in score.matches:
                assert dets[d].area_px == pytest.approx((labels == t + 1).sum(), rel=0.1)
    assert ious["band"] > ious["upsampled"] + 0.05
    assert ious["band"] >= ious["wire pass"] - 0.01
