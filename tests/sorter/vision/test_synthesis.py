"""Frame synthesis: seeded, truth consistent with the picture, pieces move with the belt."""

from __future__ import annotations

import numpy as np
import pytest

from sorter.vision.synthesis import KINDS, VISUAL_CLASSES, Belt, SceneSettings, make_piece


@pytest.fixture(scope="module")
def frames():
    return list(Belt(SceneSettings.training(), 3, 2).frames())


def test_same_seed_same_frames(frames):
    again = Belt(SceneSettings.training(), 3, 2).render(1)   # a frame alone renders as in the sequence
    assert np.array_equal(again.image, frames[1].image)
    assert not np.array_equal(Belt(SceneSettings.training(), 4, 2).render(1).image, frames[1].image)


def test_truth_matches_the_label_image(frames):
    for f in frames:
        assert f.labels.max() == len(f.truth)
        for i, t in enumerate(f.truth, start=1):
            ys, xs = np.nonzero(f.labels == i)
            assert [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1] == t["bbox"]
            assert t["visual_class"] in VISUAL_CLASSES


def test_a_piece_moves_by_the_belt_displacement(frames):
    s = SceneSettings.training()
    shift_px = 1000 * s.belt_speed_m_s * s.frame_interval_s * s.px_per_mm
    a = {t["piece_id"]: t for t in frames[0].truth if t["complete"]}
    b = {t["piece_id"]: t for t in frames[1].truth if t["complete"]}
    common = [p for p in a if p in b and a[p]["visible_area_mm2"] == b[p]["visible_area_mm2"]]
    assert common
    for p in common:
        assert b[p]["bbox"][0] - a[p]["bbox"][0] == pytest.approx(shift_px, abs=1)


def test_every_kind_draws_a_piece_of_its_size():
    rng = np.random.default_rng(0)
    for kind in KINDS.values():
        p = make_piece(rng, kind, 1.5)
        assert p.mask.any() and p.reflectance.shape[:2] == p.mask.shape
        assert 5 < p.area_mm2 < kind.size_mm[1] ** 2
