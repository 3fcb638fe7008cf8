"""Seeded top-down conveyor frames with ground truth: the camera's training and test data.

A belt runs along +x (left to right in the image) at ``belt_speed_m_s``; pieces lie still on it,
so a piece at belt position ``x_belt_mm`` appears in the frame taken at time ``t`` [s] at
``x_px = (x_belt_mm + 1000 v t) * px_per_mm``. Consecutive frames overlap by
``1 - 1000 v dt / frame_length_mm``, so most pieces are seen twice: the tracker's job.

Each frame is built as a physical picture would be: reflectance of the belt (a fixed texture that
moves with it) and of each piece (colour of its kind, ``kinds.csv``, texture, print, specular
band), shadows cast by the pieces, then an illumination field (uneven, drifting in level and
colour), motion blur along the belt, sensor noise and, optionally, JPEG artefacts. The truth is a
label image (0 = belt, i = the i-th piece of the frame's truth list) of what is *visible*: a piece
lying partly on another hides it.

The appearance numbers are estimates for synthetic data (each row of ``kinds.csv`` says so), not
measurements of a real line.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field, replace
from importlib import resources

import cv2
import numpy as np

from blending.errors import InputError

VISUAL_CLASSES = ("painted_can", "bare_wrought", "cast", "copper", "brass", "steel_stainless", "non_metal")


@dataclass(frozen=True)
class Kind:
    """How one kind of piece looks (a row of ``kinds.csv``)."""

    kind: str
    visual_class: str
    metal: bool
    shape: str
    size_mm: tuple[float, float]
    bgr_lo: tuple[float, float, float]
    bgr_hi: tuple[float, float, float]
    texture: float
    specular: float
    printed: bool


def read_kinds() -> dict[str, Kind]:
    """The piece kinds of ``sorter/vision/kinds.csv``."""
    text = resources.files("sorter.vision").joinpath("kinds.csv").read_text(encoding="utf-8")
    kinds = {}
    for row in csv.DictReader(text.splitlines()):
        f = {k: float(v) for k, v in row.items() if k not in ("kind", "visual_class", "shape", "source")}
        kinds[row["kind"]] = Kind(row["kind"], row["visual_class"], bool(f["metal"]), row["shape"],
                                  (f["size_mm_lo"], f["size_mm_hi"]), (f["b_lo"], f["g_lo"], f["r_lo"]),
                                  (f["b_hi"], f["g_hi"], f["r_hi"]), f["texture"], f["specular"], bool(f["printed"]))
    return kinds


KINDS = read_kinds()


@dataclass(frozen=True)
class SceneSettings:
    """What the generator draws; ``training()`` and ``held_out()`` differ on purpose.

    width_px, height_px : int
        Frame size [px]; x runs along the belt.
    px_per_mm : float
        Calibration [px/mm].
    belt_speed_m_s : float
        Belt speed [m/s].
    frame_interval_s : float
        Time between frames [s].
    pieces_per_m : float
        Mean pieces per metre of belt [1/m].
    touching_fraction : float
        Share of pieces laid against (or partly on) another [-].
    light_level : tuple of float
        Range of the mean illumination gain [-].
    light_gradient : float
        Peak-to-peak share of the illumination that varies across the frame [-].
    light_drift_per_s : float
        Relative change of the illumination per second (a slow random walk) [1/s].
    colour_cast : float
        Largest per-channel gain offset of the light (white balance off) [-].
    shadow_strength : tuple of float
        Range of the darkening inside a shadow [-].
    blur_px : tuple of float
        Range of the motion-blur length along the belt [px].
    noise_sigma : float
        Sensor noise standard deviation [grey levels of 255].
    jpeg_quality : int or None
        JPEG round trip at this quality; None for none.
    kind_weights : dict of str to float
        Relative frequency of each kind; empty for all equal.
    """

    width_px: int = 1280
    height_px: int = 720
    px_per_mm: float = 1.5
    belt_speed_m_s: float = 2.5
    frame_interval_s: float = 0.2
    pieces_per_m: float = 22.0
    touching_fraction: float = 0.25
    light_level: tuple[float, float] = (0.85, 1.15)
    light_gradient: float = 0.25
    light_drift_per_s: float = 0.05
    colour_cast: float = 0.04
    shadow_strength: tuple[float, float] = (0.15, 0.35)
    blur_px: tuple[float, float] = (0.0, 4.0)
    noise_sigma: float = 2.5
    jpeg_quality: int | None = None
    kind_weights: dict[str, float] = field(default_factory=dict)

    @classmethod
    def training(cls) -> SceneSettings:
        return cls()

    @classmethod
    def held_out(cls) -> SceneSettings:
        """Other light, more blur and noise, JPEG, denser belt: the evaluation set's generator."""
        return cls(light_level=(0.75, 1.25), light_gradient=0.35, light_drift_per_s=0.08, colour_cast=0.06,
                   shadow_strength=(0.2, 0.4), blur_px=(1.0, 6.0), noise_sigma=3.5, jpeg_quality=85,
                   pieces_per_m=26.0, touching_fraction=0.3)

    @property
    def frame_length_mm(self) -> float:
        return self.width_px / self.px_per_mm

    @property
    def belt_width_mm(self) -> float:
        return self.height_px / self.px_per_mm


@dataclass
class Piece:
    """One piece on the belt: its picture (reflectance, mask) and where it lies."""

    piece_id: int
    kind: str
    visual_class: str
    x_belt_mm: float          # belt position of the patch's left edge [mm]
    y_px: int                 # top edge of the patch across the belt [px]
    reflectance: np.ndarray   # (h, w, 3) float32, BGR, >1 where specular
    mask: np.ndarray          # (h, w) bool
    area_mm2: float           # drawn area (before any occlusion) [mm2]


@dataclass
class Frame:
    """A rendered frame and its truth."""

    index: int
    timestamp_s: float
    image: np.ndarray          # (H, W, 3) uint8 BGR
    labels: np.ndarray         # (H, W) int32: 0 belt, i+1 for truth[i]
    truth: list[dict]          # per visible piece: piece_id, kind, visual_class, bbox, area_mm2, complete


# ---- piece shapes -----------------------------------------------------------------------------

def _outline_mm(rng: np.random.Generator, shape: str, size_mm: float) -> tuple[np.ndarray, float]:
    """A closed outline (n, 2) in mm centred on 0, and the line thickness (0 for a filled polygon)."""
    if shape == "wire":
        n = 24
        t = np.linspace(-0.5, 0.5, n)
        bend = rng.uniform(-0.25, 0.25) * size_mm
        pts = np.stack([t * size_mm, bend * (1 - 4 * t**2) + rng.normal(0, 0.01 * size_mm, n).cumsum() * 0.3], 1)
        return pts, rng.uniform(4.0, 7.0)
    if shape in ("can", "lump"):
        n = 48
        th = np.linspace(0, 2 * np.pi, n, endpoint=False)
        rough = 0.06 if shape == "can" else 0.12
        k = np.arange(1, 6)
        amp = rng.normal(0, rough, k.size) / k
        ph = rng.uniform(0, 2 * np.pi, k.size)
        r = 1 + (amp[:, None] * np.cos(k[:, None] * th + ph[:, None])).sum(0)
        aspect = rng.uniform(1.0, 1.7) if shape == "can" else rng.uniform(1.0, 1.5)
        return np.stack([0.5 * size_mm * r * np.cos(th), 0.5 * size_mm * r * np.sin(th) / aspect], 1), 0.0
    if shape == "bar":
        w = rng.uniform(0.15, 0.35) * size_mm
        pts = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]]) * [size_mm, w]
        if rng.random() < 0.4:   # an L-profile seen from above
            leg = rng.uniform(0.25, 0.45) * size_mm
            pts = np.array([[-0.5 * size_mm, -0.5 * w], [0.5 * size_mm, -0.5 * w], [0.5 * size_mm, 0.5 * w],
                            [-0.5 * size_mm + w, 0.5 * w], [-0.5 * size_mm + w, 0.5 * w + leg],
                            [-0.5 * size_mm, 0.5 * w + leg]])
            pts[:, 1] -= leg / 2
        return pts, 0.0
    if shape == "fitting":
        n = 6 if rng.random() < 0.5 else 8
        th = np.linspace(0, 2 * np.pi, n, endpoint=False)
        stretch = rng.uniform(1.0, 1.8)
        return np.stack([0.5 * size_mm * np.cos(th) * stretch, 0.5 * size_mm * np.sin(th)], 1), 0.0
    # sheet: a convex-ish polygon with a few cut corners
    n = int(rng.integers(5, 9))
    th = np.sort(rng.uniform(0, 2 * np.pi, n))
    r = 0.5 * size_mm * rng.uniform(0.7, 1.0, n)
    return np.stack([r * np.cos(th), r * np.sin(th) / rng.uniform(1.0, 1.6)], 1), 0.0


def _random_colour(rng: np.random.Generator, value: tuple[float, float]) -> np.ndarray:
    hsv = np.uint8([[[rng.integers(0, 180), rng.integers(110, 256), int(255 * rng.uniform(*value))]]])
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32) / 255.0


def _smooth_noise(rng: np.random.Generator, h: int, w: int, scale_px: float) -> np.ndarray:
    """Zero-mean, unit-std noise smoothed over ``scale_px``."""
    n = rng.normal(0, 1, (h, w)).astype(np.float32)
    if scale_px > 0.5:
        n = cv2.GaussianBlur(n, (0, 0), scale_px)
    s = n.std()
    return n / s if s > 0 else n


def make_piece(rng: np.random.Generator, kind: Kind, px_per_mm: float, piece_id: int = 0) -> Piece:
    """Draw one piece of ``kind``: outline, colour, texture, print and specular band; position unset."""
    size = rng.uniform(*kind.size_mm)
    pts, thick_mm = _outline_mm(rng, kind.shape, size)
    a = rng.uniform(0, np.pi)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    pts = pts @ rot.T * px_per_mm
    pad = int(math.ceil(thick_mm * px_per_mm)) + 3
    lo = pts.min(0)
    pts = pts - lo + pad
    w, h = (np.ceil(pts.max(0)).astype(int) + pad + 1)
    mask8 = np.zeros((h, w), np.uint8)
    ipts = np.round(pts * 16).astype(np.int32)   # 4 fractional bits
    if thick_mm > 0:
        cv2.polylines(mask8, [ipts], False, 255, max(1, int(round(thick_mm * px_per_mm))), cv2.LINE_8, shift=4)
    else:
        cv2.fillPoly(mask8, [ipts], 255, cv2.LINE_8, shift=4)
    mask = mask8 > 0
    if kind.printed or kind.kind == "plastic":
        base = _random_colour(rng, (0.35, 0.9) if kind.printed else (0.25, 0.95))
    else:
        base = rng.uniform(kind.bgr_lo, kind.bgr_hi).astype(np.float32)
    refl = np.empty((h, w, 3), np.float32)
    refl[:] = base
    tex = _smooth_noise(rng, h, w, 1.0 if kind.visual_class == "cast" else 2.0)
    refl *= (1 + kind.texture * tex)[..., None]
    if kind.kind == "wood":   # grain: stripes along the piece
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        u = xx * np.cos(a) + yy * np.sin(a)
        v = -xx * np.sin(a) + yy * np.cos(a)
        grain = np.sin(v * 0.9 + 2.5 * np.sin(u * 0.05))
        refl *= (1 + 0.12 * grain)[..., None]
    if kind.printed:   # decoration: a second colour, a white band, dark lettering blobs
        second = _random_colour(rng, (0.2, 0.95))
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        b = rng.uniform(0, np.pi)
        u = (xx * np.cos(b) + yy * np.sin(b)) / px_per_mm
        stripe = np.sin(u * 2 * np.pi / rng.uniform(15, 40) + rng.uniform(0, 6)) > rng.uniform(-0.3, 0.4)
        refl[stripe] = second
        letters = _smooth_noise(rng, h, w, 2.0 * px_per_mm) > 1.2
        refl[letters] = rng.choice([0.08, 0.92])
    if kind.specular > 0:   # a crumpled metal shows a bright band where it faces the light
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        c = rng.uniform(0, np.pi)
        d = (xx - w / 2) * np.cos(c) + (yy - h / 2) * np.sin(c) - rng.uniform(-0.3, 0.3) * min(h, w)
        width = rng.uniform(3, 8) * px_per_mm
        band = np.exp(-0.5 * (d / width) ** 2) * kind.specular * rng.uniform(0.6, 1.3)
        refl += band[..., None] * 0.9
    area_mm2 = float(mask.sum()) / px_per_mm**2
    return Piece(piece_id, kind.kind, kind.visual_class, 0.0, 0, refl, mask, area_mm2)


# ---- the belt ---------------------------------------------------------------------------------

class Belt:
    """A stretch of belt with pieces on it, and the camera that photographs it.

    Parameters
    ----------
    settings : SceneSettings
    seed : int
    n_frames : int
        Frames the belt stretch must cover.
    empty : bool
        No pieces (frames for learning the background).
    """

    def __init__(self, settings: SceneSettings, seed: int, n_frames: int, *, empty: bool = False):
        self.s = settings
        # the light belongs to the camera: the same seed, with or without pieces, gives the same light
        self.light_phase = np.random.default_rng([seed, 1]).uniform(0, 2 * np.pi, 4)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.n_frames = n_frames
        s = settings
        travel_mm = 1000 * s.belt_speed_m_s * s.frame_interval_s * max(n_frames - 1, 0)
        # belt coordinate of the image's left edge at t = 0 is 0; frames look further upstream (negative x) later
        self.x_lo_mm = -travel_mm - s.frame_length_mm * 0.2
        self.x_hi_mm = s.frame_length_mm * 1.2
        tex_len = int((self.x_hi_mm - self.x_lo_mm) * s.px_per_mm) + 8
        grey = self.rng.uniform(0.28, 0.34)
        tex = 0.03 * _smooth_noise(self.rng, s.height_px, tex_len, 1.2) + 0.02 * _smooth_noise(
            self.rng, s.height_px, tex_len, 6.0)
        tint = np.array([1.0, 0.99, 0.97], np.float32) * grey
        self.belt = (tint[None, None, :] * (1 + tex)[..., None]).astype(np.float32)
        self.pieces: list[Piece] = [] if empty else self._lay_pieces()

    def _lay_pieces(self) -> list[Piece]:
        s = self.s
        names = list(KINDS)
        w = np.array([s.kind_weights.get(k, 1.0 if not s.kind_weights else 0.0) for k in names], float)
        w /= w.sum()
        length_m = (self.x_hi_mm - self.x_lo_mm) / 1000
        n = self.rng.poisson(s.pieces_per_m * length_m)
        occupied = np.zeros((s.height_px, int((self.x_hi_mm - self.x_lo_mm) * s.px_per_mm) + 8), bool)
        pieces: list[Piece] = []
        for i in range(n):
            kind = KINDS[names[self.rng.choice(len(names), p=w)]]
            p = make_piece(self.rng, kind, s.px_per_mm, piece_id=i + 1)
            h, wd = p.mask.shape
            if h >= s.height_px - 4:
                continue
            touch = pieces and self.rng.random() < s.touching_fraction
            for _ in range(60):
                if touch:   # against a random earlier piece: small overlap of the outlines allowed
                    q = pieces[int(self.rng.integers(len(pieces)))]
                    qx = int((q.x_belt_mm - self.x_lo_mm) * s.px_per_mm)
                    ang = self.rng.uniform(0, 2 * np.pi)
                    cx = qx + q.mask.shape[1] / 2 + np.cos(ang) * (q.mask.shape[1] + wd) / 2.3
                    cy = q.y_px + q.mask.shape[0] / 2 + np.sin(ang) * (q.mask.shape[0] + h) / 2.3
                    x0, y0 = int(cx - wd / 2), int(cy - h / 2)
                else:
                    x0 = int(self.rng.integers(0, occupied.shape[1] - wd))
                    y0 = int(self.rng.integers(2, s.height_px - h - 2))
                if not (0 <= x0 <= occupied.shape[1] - wd and 2 <= y0 <= s.height_px - h - 2):
                    continue
                region = occupied[y0:y0 + h, x0:x0 + wd]
                overlap = (region & p.mask).sum() / p.mask.sum()
                # a touching piece may cover up to a fifth of its own outline, a free one none
                if (touch and 0 < overlap <= 0.2) or (not touch and not (region & _dilate(p.mask, 6)).any()):
                    break
            else:
                continue
            occupied[y0:y0 + h, x0:x0 + wd] |= p.mask
            pieces.append(replace(p, x_belt_mm=self.x_lo_mm + x0 / s.px_per_mm, y_px=y0))
        return pieces

    def _illumination(self, t: float) -> np.ndarray:
        """(H, W, 3) illumination gain at time ``t``: level, gradient and colour cast drift slowly."""
        s = self.s
        ph = self.light_phase
        lo, hi = s.light_level
        level = (lo + hi) / 2 + (hi - lo) / 2 * math.sin(ph[0] + 2 * np.pi * s.light_drift_per_s * t * 3)
        yy, xx = np.mgrid[0:s.height_px:8, 0:s.width_px:8].astype(np.float32)
        gx = math.cos(ph[1] + 0.3 * t) * s.light_gradient / 2
        gy = math.sin(ph[1] + 0.3 * t) * s.light_gradient / 2
        xn, yn = xx / s.width_px - 0.5, yy / s.height_px - 0.5
        field = level * (1 + gx * 2 * xn + gy * 2 * yn - 0.5 * s.light_gradient * (xn**2 + yn**2))
        field = cv2.resize(field, (s.width_px, s.height_px), interpolation=cv2.INTER_LINEAR)
        cast = 1 + s.colour_cast * np.sin(ph[2] + np.arange(3) * 2.1 + 0.2 * t)
        return field[..., None] * cast.astype(np.float32)[None, None, :]

    def render(self, index: int) -> Frame:
        """The frame taken at ``index * frame_interval_s``."""
        s = self.s
        t = index * s.frame_interval_s
        shift_mm = 1000 * s.belt_speed_m_s * t   # belt coordinate of the image's left edge is -shift_mm
        left_mm = -shift_mm
        off = int(round((left_mm - self.x_lo_mm) * s.px_per_mm))
        img = self.belt[:, off:off + s.width_px].copy()
        labels = np.zeros((s.height_px, s.width_px), np.int32)
        visible = [p for p in self.pieces
                   if p.x_belt_mm < left_mm + s.frame_length_mm and
                   p.x_belt_mm + p.mask.shape[1] / s.px_per_mm > left_mm]
        rng = np.random.default_rng([self.seed, index, 2])   # a frame's own noise: any order renders the same
        shadow = np.ones((s.height_px, s.width_px), np.float32)
        dx, dy = rng.integers(3, 9), rng.integers(3, 9)
        strength = rng.uniform(*s.shadow_strength)
        placed = []
        for p in visible:
            x0 = int(round((p.x_belt_mm - self.x_lo_mm) * s.px_per_mm)) - off
            placed.append((p, x0))
            h, w = p.mask.shape
            _paste_where(shadow, p.mask, x0 + dx, p.y_px + dy, 1 - strength)
        shadow = cv2.GaussianBlur(shadow, (0, 0), 2.0)
        img *= shadow[..., None]
        truth = []
        for i, (p, x0) in enumerate(placed, start=1):
            _paste_where(img, p.mask, x0, p.y_px, p.reflectance)
            _paste_where(labels, p.mask, x0, p.y_px, i)
        img *= self._illumination(t)
        blur = rng.uniform(*s.blur_px)
        if blur >= 1.0:
            k = int(round(blur))
            kernel = np.zeros((1, k), np.float32) + 1.0 / k
            img = cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REFLECT)
        img = img * 255 + rng.normal(0, s.noise_sigma, img.shape).astype(np.float32)
        out = np.clip(img, 0, 255).astype(np.uint8)
        if s.jpeg_quality:
            ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(s.jpeg_quality)])
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        # the truth: visible pieces only, relabelled 1..n in the order of the list
        final = np.zeros_like(labels)
        for i, (p, x0) in enumerate(placed, start=1):
            m = labels == i
            if m.sum() < 20:
                continue
            ys, xs = np.nonzero(m)
            h, w = p.mask.shape
            complete = x0 >= 0 and x0 + w <= s.width_px
            truth.append({"piece_id": p.piece_id, "kind": p.kind, "visual_class": p.visual_class,
                          "bbox": [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
                                   int(ys.max() - ys.min() + 1)],
                          "area_mm2": round(p.area_mm2, 1),
                          "visible_area_mm2": round(float(m.sum()) / s.px_per_mm**2, 1),
                          "complete": bool(complete)})
            final[m] = len(truth)
        return Frame(index, t, out, final, truth)

    def frames(self):
        for k in range(self.n_frames):
            yield self.render(k)


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.dilate(mask.astype(np.uint8), k) > 0


def _paste_where(dst: np.ndarray, mask: np.ndarray, x0: int, y0: int, value) -> None:
    """dst[y0:, x0:][mask] = value, clipped to dst; ``value`` a scalar or an array shaped like mask."""
    H, W = dst.shape[:2]
    h, w = mask.shape
    xa, ya = max(x0, 0), max(y0, 0)
    xb, yb = min(x0 + w, W), min(y0 + h, H)
    if xa >= xb or ya >= yb:
        return
    m = mask[ya - y0:yb - y0, xa - x0:xb - x0]
    region = dst[ya:yb, xa:xb]
    if isinstance(value, np.ndarray):
        region[m] = value[ya - y0:yb - y0, xa - x0:xb - x0][m]
    else:
        region[m] = value


def empty_frames(settings: SceneSettings, seed: int, n: int = 4) -> list[np.ndarray]:
    """``n`` frames of empty belt (for the background model)."""
    belt = Belt(settings, seed, n, empty=True)
    return [f.image for f in belt.frames()]


def check_settings(n: int) -> None:
    if n < 1:
        raise InputError(f"n: {n} frames; must be at least 1", field="n")
