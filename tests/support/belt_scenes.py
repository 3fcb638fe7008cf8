"""Frames of known geometry for the segmentation tests: discs and bars drawn analytically on a lit belt."""

from __future__ import annotations

import cv2
import numpy as np

from sorter.vision.segmentation import Segmenter

PX_PER_MM = 1.5
H, W = 360, 640


def belt(seed: int, gain: float = 1.0) -> np.ndarray:
    """A textured grey belt under a light that falls off to the right, float BGR in [0, 255]."""
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.normal(0, 1, (H, W)).astype(np.float32), (0, 0), 1.2) * 3
    light = np.linspace(1.1, 0.8, W, dtype=np.float32)[None, :] * gain
    return (np.float32([78, 77, 75])[None, None, :] + tex[..., None]) * light[..., None]


def finish(img: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    return np.clip(img + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8)


def scene(shapes, seed: int = 0, shadow: bool = True, gain: float = 1.0):
    """A frame with ``shapes`` (("disc", cx, cy, r, bgr) or ("bar", x, y, w, h, bgr)) and its label image."""
    img = belt(seed, gain)
    labels = np.zeros((H, W), np.int32)
    masks = []
    for shape in shapes:
        m = np.zeros((H, W), np.uint8)
        if shape[0] == "disc":
            cv2.circle(m, (shape[1], shape[2]), shape[3], 1, -1)
        else:
            cv2.rectangle(m, (shape[1], shape[2]), (shape[1] + shape[3] - 1, shape[2] + shape[4] - 1), 1, -1)
        masks.append(m.astype(bool))
    if shadow:   # shadows first, offset down-right, 30% darker
        for m in masks:
            sh = np.roll(np.roll(m, 6, 0), 6, 1)
            img[sh] *= 0.7
    light = np.linspace(1.1, 0.8, W, dtype=np.float32)[None, :, None] * gain
    for i, (shape, m) in enumerate(zip(shapes, masks, strict=True), start=1):
        img[m] = np.float32(shape[-1])[None, :] * light[0, np.nonzero(m)[1]]   # the piece under the same light
        labels[m] = i
    return finish(img, seed), labels, masks


def fitted(empty, **kw) -> Segmenter:
    return Segmenter(min_area_px=100, **kw).fit(empty)
