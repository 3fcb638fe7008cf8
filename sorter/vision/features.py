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

from collections.abc import Sequence

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

_TAIL_PX = 64               # at least this many spare pixels end the stack of crops [px]
_HIST16_KEYS = 1 << 16      # (piece, LBP code) keys countable by OpenCV's 16-bit histogram [-]
_LBP_OFFSETS = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))   # (dy, dx), bit 0 first
# rotation-invariant uniform LBP code of each 8-bit pattern: number of ones if uniform, else 9
_LBP_TABLE = np.array([bin(p).count("1") if bin(p ^ ((p << 1 | p >> 7) & 0xFF)).count("1") <= 2 else 9
                       for p in range(256)], np.uint8)


def lbp_codes(grey: np.ndarray) -> np.ndarray:
    """(h - 2, w - 2) rotation-invariant uniform LBP codes (0-9, P=8, R=1) of the interior pixels of ``grey``
    (float32 or uint8)."""
    g = grey if grey.dtype in (np.float32, np.uint8) else grey.astype(np.float32)
    c = g[1:-1, 1:-1]
    code = np.zeros(c.shape, np.uint8)
    h, w = g.shape
    for k, (dy, dx) in enumerate(_LBP_OFFSETS):
        # OpenCV's compare (255 where true) masked to the bit: four times quicker than numpy's boolean shifts
        code |= cv2.compare(g[1 + dy:h - 1 + dy, 1 + dx:w - 1 + dx], c, cv2.CMP_GE) & np.uint8(1 << k)
    return cv2.LUT(code, _LBP_TABLE)


def piece_features(image: np.ndarray, belt: np.ndarray, det: Detection, px_per_mm: float) -> np.ndarray:
    """The feature vector of one detection (see :func:`frame_features`, which does a frame's at once)."""
    return frame_features(image, belt, [det], px_per_mm)[0]


def frame_features(image: np.ndarray, belt: np.ndarray, dets: Sequence[Detection], px_per_mm: float) -> np.ndarray:
    """The (n, N_FEATURES) float32 feature vectors of a frame's detections.

    Each piece's crop (shrunk to at most ``_MAX_SIDE`` px a side) is read against the belt's colour at its
    box centre. The crops are stacked one under another in one image, so the per-pixel arithmetic, the
    texture codes and their histograms run once per frame, and a piece costs its crop, three masked means
    and its outline's shape numbers: a third less time than one piece at a time, the same numbers
    (to float32 rounding).

    Parameters
    ----------
    image : (H, W, 3) uint8
        The frame, BGR.
    belt : (h, w, 3) float32
        The belt's colour (background model), at any resolution (rescaled to the frame's).
    dets : sequence of Detection
    px_per_mm : float
        Calibration [px/mm].
    """
    n = len(dets)
    if n == 0:
        return np.zeros((0, N_FEATURES), np.float32)
    crops, masks = [], []
    n_px = np.empty(n)
    for i, det in enumerate(dets):
        x, y, w, h = det.bbox
        crop = image[y:y + h, x:x + w]
        mask = det.mask
        s = max(1, -(-max(w, h) // _MAX_SIDE))
        if s > 1:
            crop = cv2.resize(crop, (max(w // s, 3), max(h // s, 3)), interpolation=cv2.INTER_AREA)
            mask = cv2.resize(mask.view(np.uint8), (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_NEAREST)
        n_px[i] = cv2.countNonZero(mask.view(np.uint8))
        if n_px[i] < 4:
            mask = np.ones(crop.shape[:2], bool)
            n_px[i] = mask.size
        crops.append(crop)
        masks.append(mask)
    heights = np.array([c.shape[0] for c in crops])
    widths = np.array([c.shape[1] for c in crops])
    rows = np.concatenate([[0], np.cumsum(heights)])
    # spare rows below the last crop: OpenCV's vector loops finish an image with a scalar tail whose rounding
    # differs (by one ulp, enough to break a tie between equal neighbours in the texture codes); there it
    # falls on no piece, so a pixel's features never depend on where its crop lies in the stack
    spare = -(-_TAIL_PX // widths.max())
    stack = np.zeros((rows[-1] + spare, widths.max(), 3), np.uint8)
    inside = np.zeros(stack.shape[:2], np.uint8)
    for i in range(n):
        stack[rows[i]:rows[i + 1], :widths[i]] = crops[i]
        inside[rows[i]:rows[i + 1], :widths[i]] = masks[i].view(np.uint8)
    # the belt's colour under each piece: the model at the bbox centre (light varies slowly)
    bh, bw = belt.shape[:2]
    H, W = image.shape[:2]
    box = np.array([d.bbox for d in dets], np.float64)
    by = np.minimum(((box[:, 1] + box[:, 3] / 2) * bh / H).astype(int), bh - 1)
    bx = np.minimum(((box[:, 0] + box[:, 2] / 2) * bw / W).astype(int), bw - 1)
    bcol = np.maximum(belt[by, bx].astype(np.float32), 1.0)
    ratio = stack.astype(np.float32)
    for i, inv_b in enumerate((1.0 / bcol).tolist()):
        # in place on the piece's rows (contiguous); numpy's broadcast over the stack costs three times more
        band = ratio[rows[i]:rows[i + 1]]
        cv2.multiply(band, (*inv_b, 0.0), dst=band)
    # opponent colours (brightness, red-green, yellow-blue): Lab's axes without its cube roots, which
    # cost more than all the rest of the features together
    opp = cv2.transform(ratio, _OPPONENT)
    light, rg, yb = cv2.split(opp)
    inv = 1.0 / np.maximum(light, 0.05)
    # saturation and its direction (sum sat cos(h) = sum rg / light: hue without trigonometry) as one
    # 3-channel image, so one masked mean per piece reads them
    extra = cv2.merge([cv2.magnitude(rg, yb) * inv, rg * inv, yb * inv])
    colour = np.empty((n, 20))
    for i in range(n):
        band, m8 = slice(rows[i], rows[i + 1]), inside[rows[i]:rows[i + 1], :widths[i]]
        mean, std = cv2.meanStdDev(ratio[band, :widths[i]], mask=m8)
        colour[i, 0:3], colour[i, 3:6] = mean[:, 0], std[:, 0]
        mean, std = cv2.meanStdDev(opp[band, :widths[i]], mask=m8)
        colour[i, 8:11], colour[i, 11:14] = mean[:, 0], std[:, 0]
        mean, std = cv2.meanStdDev(extra[band, :widths[i]], mask=m8)
        colour[i, 14], colour[i, 15] = mean[0, 0], std[0, 0]
        colour[i, 16:18] = mean[1:3, 0]
    # dark and specular shares: pixels counted per row of the stack, rows summed per piece
    for j, (cmp, level) in enumerate(((cv2.CMP_LT, DARK_RATIO), (cv2.CMP_GT, SPECULAR_RATIO))):
        hit = cv2.compare(light, level, cmp) & inside
        per_row = cv2.reduce(hit, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S)[:, 0]
        colour[:, 18 + j] = np.add.reduceat(per_row, rows[:-1]) / n_px
    colour[:, 6:8] = colour[:, [0, 2]] / np.maximum(colour[:, 0:3].sum(1), 1e-6)[:, None]   # chromaticity
    colour[:, 16:18] /= np.maximum(colour[:, 14:15], 1e-6 / n_px[:, None])   # hue: sums over sat's sum

    # texture: codes of the interior pixels of each crop (a crop's border has no full neighbourhood)
    lbp = np.zeros((n, 10))
    grey = light[:rows[-1]]
    if len(grey) >= 3 and grey.shape[1] >= 3:
        code = lbp_codes(grey)
        r = np.arange(1, len(grey) - 1)
        piece = np.searchsorted(rows, r, side="right") - 1
        interior = (r > rows[piece]) & (r < rows[piece + 1] - 1)
        cols = np.arange(1, grey.shape[1] - 1)
        use = inside[1:len(grey) - 1, 1:-1] > 0
        use &= interior[:, None] & (cols[None, :] < (widths[piece] - 1)[:, None])
        # one histogram of (piece, code) pairs, the pixels not counted in an 11th bin
        key = np.where(use, code, np.uint8(10))
        if 11 * n <= _HIST16_KEYS:
            # OpenCV's histogram of 16-bit keys: a third quicker than numpy's bincount (which widens them)
            key = key.astype(np.uint16)
            key += (11 * piece).astype(np.uint16)[:, None]
            lbp = cv2.calcHist([key], [0], None, [11 * n], [0, 11 * n]).reshape(n, 11)
        else:
            lbp = np.bincount((key + (11 * piece)[:, None]).ravel(), minlength=11 * n).reshape(n, 11)
        lbp = lbp[:, :10].astype(np.float64)
        lbp /= np.maximum(lbp.sum(1), 1.0)[:, None]
    shape = shape_features(dets, px_per_mm)
    return np.concatenate([colour, lbp, shape], axis=1).astype(np.float32)


def shape_features(dets: Sequence[Detection], px_per_mm: float) -> np.ndarray:
    """(n, 12) shape numbers of the detections: log10 area [mm2], thickness [mm], solidity, log aspect,
    extent and the seven Hu moments as ``-sign(h) log10 |h|``."""
    n = len(dets)
    hull, perim, rect, hu = np.empty(n), np.empty(n), np.empty((n, 2)), np.empty((n, 7))
    for i, det in enumerate(dets):
        c = det.contour
        hull[i] = cv2.contourArea(cv2.convexHull(c))
        rect[i] = cv2.minAreaRect(c)[1]
        perim[i] = cv2.arcLength(c, True)
        hu[i] = cv2.HuMoments(cv2.moments(c))[:, 0]
    area = np.maximum([d.area_px for d in dets], 1.0)
    long, short = rect.max(1), rect.min(1)
    out = np.empty((n, 12))
    out[:, 0] = np.log10(area / px_per_mm**2)
    out[:, 1] = 2 * area / np.maximum(perim, 1.0) / px_per_mm
    out[:, 2] = np.minimum(area / np.maximum(hull, 1.0), 1.0)                # solidity
    out[:, 3] = np.log(long / np.maximum(short, 1.0))                        # aspect
    out[:, 4] = np.minimum(area / np.maximum(long * short, 1.0), 1.5)        # extent
    out[:, 5:] = np.clip(-np.sign(hu) * np.log10(np.abs(hu) + 1e-30), -30, 30)
    return out
