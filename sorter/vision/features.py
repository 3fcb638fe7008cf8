"""What the camera sees of one piece, as a fixed-length vector: colour, texture, shape, gloss.

Colour is read relative to the belt around the piece (the background model's colour at the same
pixels), so a brighter lamp or a warmer white balance changes the piece and the belt alike and the
ratio stays. Colour statistics are on opponent axes (brightness, red-green, yellow-blue: Lab's
axes without its cube roots, which would cost more than the rest together) and the saturation and
hue they give. Texture is the histogram of rotation-invariant uniform local binary patterns (Ojala,
Pietikainen & Maenpaa 2002, P = 8, R = 1: ten bins) of the brightness. Shape: solidity, aspect
ratio of the minimum area rectangle, extent, thickness (2 area / perimeter) and the seven Hu (1962) moment invariants
as ``-sign(h) log10 |h|``. Gloss: the share of pixels much brighter than the belt (a specular band).

The extraction is OpenCV and numpy, outside the ONNX graph; the model reads the vector.
"""

from __future__ import annotations

import cv2
import numpy as np

from sorter.vision.segmentation import Detection

FEATURE_NAMES = (
    ["ratio_b", "ratio_g", "ratio_r", "ratio_std_b", "ratio_std_g", "ratio_std_r",
     "chroma_b", "chroma_r", "opp_light", "opp_red_green", "opp_yellow_blue", "opp_light_std",
     "opp_red_green_std", "opp_yellow_blue_std", "saturation", "saturation_std", "hue_cos", "hue_sin",
     "dark_fraction", "specular_fraction"]
    + [f"lbp_{i}" for i in range(10)]
    + ["log_area_mm2", "thickness_mm", "solidity", "aspect", "extent"]
    + [f"hu_{i}" for i in range(7)]
)
N_FEATURES = len(FEATURE_NAMES)
BELT_REFLECTANCE = 0.31     # the belt's grey; scales ratios back to reflectance for Lab [-]
SPECULAR_RATIO = 2.7        # brighter than this many belts: a specular highlight [-]
DARK_RATIO = 0.45           # darker than this: black (rubber, print) [-]
_MAX_SIDE = 64              # crops are shrunk to this for colour and texture [px]
# rows: brightness, red - green, (red + green) / 2 - blue, on BGR columns
_OPPONENT = np.array([[1 / 3, 1 / 3, 1 / 3], [0.0, -1.0, 1.0], [-1.0, 0.5, 0.5]], np.float32)

# rotation-invariant uniform LBP code of each 8-bit pattern: number of ones if uniform, else 9
_LBP_TABLE = np.array([bin(p).count("1") if bin(p ^ ((p << 1 | p >> 7) & 0xFF)).count("1") <= 2 else 9
                       for p in range(256)], np.uint8)


def lbp_histogram(grey: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Normalised 10-bin rotation-invariant uniform LBP histogram (P=8, R=1) over ``mask``."""
    g = grey if grey.dtype == np.float32 else grey.astype(np.int16)
    c = g[1:-1, 1:-1]
    code = np.zeros(c.shape, np.uint8)
    offsets = [(-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1)]
    h, w = g.shape
    for bit, (dy, dx) in enumerate(offsets):
        code |= ((g[1 + dy:h - 1 + dy, 1 + dx:w - 1 + dx] >= c).astype(np.uint8) << bit)
    m = mask[1:-1, 1:-1]
    hist = np.bincount(_LBP_TABLE[code[m]], minlength=10).astype(np.float64)
    return hist / max(hist.sum(), 1.0)


def piece_features(image: np.ndarray, belt: np.ndarray, det: Detection, px_per_mm: float) -> np.ndarray:
    """The feature vector of one detection.

    Parameters
    ----------
    image : (H, W, 3) uint8
        The frame, BGR.
    belt : (h, w, 3) float32
        The belt's colour (background model), at any resolution (rescaled to the frame's).
    det : Detection
    px_per_mm : float
        Calibration [px/mm].
    """
    x, y, w, h = det.bbox
    crop = image[y:y + h, x:x + w]
    mask = det.mask
    s = max(1, int(np.ceil(max(w, h) / _MAX_SIDE)))
    if s > 1:
        crop = cv2.resize(crop, (max(w // s, 3), max(h // s, 3)), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask.astype(np.uint8), (crop.shape[1], crop.shape[0]),
                          interpolation=cv2.INTER_NEAREST) > 0
    if mask.sum() < 4:
        mask = np.ones(crop.shape[:2], bool)
    m8 = mask.astype(np.uint8)
    n_px = float(m8.sum())
    # the belt's colour under the piece: the model at the bbox centre (light varies slowly)
    bh, bw = belt.shape[:2]
    H, W = image.shape[:2]
    by = min(int((y + h / 2) * bh / H), bh - 1)
    bx = min(int((x + w / 2) * bw / W), bw - 1)
    bcol = np.maximum(belt[by, bx].astype(np.float32), 1.0)
    ratio = crop.astype(np.float32) * (1.0 / bcol)
    mean, std = (v.ravel() for v in cv2.meanStdDev(ratio, mask=m8))
    chroma = mean / max(mean.sum(), 1e-6)
    # opponent colours (brightness, red-green, yellow-blue): Lab's axes without its cube roots, which
    # cost more than all the rest of the features together
    opp = cv2.transform(ratio, _OPPONENT)
    opp_mean, opp_std = (v.ravel() for v in cv2.meanStdDev(opp, mask=m8))
    light, rg, yb = cv2.split(opp)
    inv = 1.0 / np.maximum(light, 0.05)
    sat = cv2.magnitude(rg, yb) * inv
    sat_mean, sat_std = (float(v[0, 0]) for v in cv2.meanStdDev(sat, mask=m8))
    # hue as the saturation-weighted mean direction: sum sat cos(h) = sum rg / light (no trigonometry)
    wsum = max(sat_mean * n_px, 1e-6)
    hue_cos = float((rg * inv)[mask].sum()) / wsum
    hue_sin = float((yb * inv)[mask].sum()) / wsum
    dark = cv2.countNonZero(cv2.compare(light, DARK_RATIO, cv2.CMP_LT) & m8) / n_px
    spec = cv2.countNonZero(cv2.compare(light, SPECULAR_RATIO, cv2.CMP_GT) & m8) / n_px
    colour = [*mean, *std, chroma[0], chroma[2], *opp_mean, *opp_std, sat_mean, sat_std, hue_cos, hue_sin,
              dark, spec]
    grey = light
    lbp = lbp_histogram(grey, mask) if min(grey.shape) >= 3 else np.zeros(10)
    shape = shape_features(det, px_per_mm)
    return np.concatenate([colour, lbp, shape]).astype(np.float32)


def shape_features(det: Detection, px_per_mm: float) -> np.ndarray:
    c = det.contour
    area = max(det.area_px, 1.0)
    hull = cv2.convexHull(c)
    solidity = min(area / max(cv2.contourArea(hull), 1.0), 1.0)
    (_, _), (rw, rh), _ = cv2.minAreaRect(c)
    aspect = max(rw, rh) / max(min(rw, rh), 1.0)
    extent = area / max(rw * rh, 1.0)
    perim = max(cv2.arcLength(c, True), 1.0)
    hu = cv2.HuMoments(cv2.moments(c)).ravel()
    hu = -np.sign(hu) * np.log10(np.abs(hu) + 1e-30)
    hu = np.clip(hu, -30, 30)
    return np.array([np.log10(area / px_per_mm**2), 2 * area / perim / px_per_mm, solidity, np.log(aspect),
                     min(extent, 1.5), *hu])
