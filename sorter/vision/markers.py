"""Markers grown into pieces: the watershed that every split of a blob ends with.

A split proposes markers (distance-transform cores, regions between contacts, colour regions), one label per
piece; the watershed on the colour image gives every unmarked pixel of the blob to one of them, along the
colour edges, while the belt around the blob is a basin of its own (Meyer's flooding, as ``cv2.watershed``).
"""

from __future__ import annotations

import cv2
import numpy as np


def regions(mask: np.ndarray, min_px: float) -> tuple[np.ndarray, int]:
    """The 8-connected regions of ``mask`` (uint8 0/1) of at least ``min_px`` px, labelled 1..n (int32), and n."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    keep = np.zeros(n, np.int32)
    k = 0
    for i in range(1, n):
        if stats[i, cv2.CC_STAT_AREA] >= min_px:
            k += 1
            keep[i] = k
    return keep[labels], k


def grow(markers: np.ndarray, n: int, blob: np.ndarray, window: np.ndarray, min_area: float) -> list[np.ndarray]:
    """The pieces (uint8 0/1) that markers 1..n (int32, 0 unmarked; changed in place) grow into inside ``blob``
    on ``window`` (the BGR image under it), those below ``min_area`` px dropped."""
    markers[blob == 0] = n + 1
    cv2.watershed(np.ascontiguousarray(window), markers)
    pieces = (((markers == k) & (blob > 0)).astype(np.uint8) for k in range(1, n + 1))
    return [p for p in pieces if p.sum() >= min_area]
