"""Tracking: a piece seen in several overlapping frames is reported once, with one id."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sorter.vision.segmentation import Detection
from sorter.vision.tracking import Tracker

PX_PER_MM, SPEED, DT, W = 1.5, 2.5, 0.2, 1280
SHIFT_PX = 1000 * SPEED * DT * PX_PER_MM     # 750 px between frames


def view(x_belt_px: float, y: int, w: int, h: int, t: float) -> Detection | None:
    """The detection of a w x h box at belt position x_belt_px at time t, cut by the frame; None if outside."""
    x0 = x_belt_px + 1000 * SPEED * t * PX_PER_MM
    a, b = max(int(round(x0)), 0), min(int(round(x0 + w)), W)
    if b - a < 5:
        return None
    mask = np.ones((h, b - a), bool)
    return Detection((a, y, b - a, h), ((a + b) / 2, y + h / 2), float(mask.sum()), mask,
                     np.zeros((0, 1, 2), np.int32), (a <= 1, b >= W - 1))


def run(pieces, n_frames):
    tr = Tracker(PX_PER_MM, SPEED)
    reports = []
    for k in range(n_frames):
        t = k * DT
        dets, who = [], []
        for i, (x, y, w, h) in enumerate(pieces):
            d = view(x, y, w, h, t)
            if d is not None:
                dets.append(d)
                who.append(i)
        for (pid, now), i in zip(tr.update(dets, t, k), who, strict=True):
            reports.append((k, i, pid, now))
    flushed = tr.flush()
    return reports, flushed


def test_piece_in_two_frames_is_reported_once_with_one_id():
    # a piece at image x 900 in frame 0 is at 1650 (out) in frame 1; one at x 300 is at 1050 in frame 1
    reports, flushed = run([(300, 100, 80, 60)], 2)
    assert [r[2] for r in reports] == [1, 1]            # same id in both frames
    assert sum(r[3] for r in reports) == 1 and not flushed


def test_entering_piece_waits_for_the_whole_view():
    # cut by the left edge in frame 0 (x from -40), whole in frame 1
    reports, flushed = run([(-40, 100, 120, 60)], 2)
    assert [(k, now) for k, _, _, now in reports] == [(0, False), (1, True)]
    assert not flushed


def test_entering_piece_in_the_last_frame_is_flushed():
    _, flushed = run([(-40, 100, 120, 60)], 1)
    assert len(flushed) == 1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(-17, 8), st.integers(0, 600)), min_size=1, max_size=12,
                unique_by=lambda p: p[0]))
def test_every_piece_reported_exactly_once(spots):
    # pieces 100 px wide on slots 150 px apart along the belt: never two in one box
    pieces = [(150 * k, y, 100, 80) for k, y in spots]
    reports, flushed = run(pieces, 5)
    told: dict[int, int] = {}
    ids: dict[int, set] = {}
    for _, i, pid, now in reports:
        ids.setdefault(i, set()).add(pid)
        told[i] = told.get(i, 0) + now
    for pid, _ in flushed:
        (i,) = [j for j, s in ids.items() if pid in s]
        told[i] += 1
    seen = set(ids)
    assert all(len(s) == 1 for s in ids.values())          # one id per piece
    assert all(told[i] == 1 for i in seen)                  # reported exactly once
