"""Join fragments of one piece: is this pair of touching parts of a blob one piece or two?

The split of a blob (neck cuts, distance-transform cores, watershed) errs towards too many parts: a
bent wire's cores break along its length, an L-profile is cut at its corner, a printed can at a band of
its print. Each pair of parts that touch is described by what a person would look at (how long their
contact is against their size, whether their union is as convex as they are, whether their colour and
thickness agree across the contact) and a small learned model, trained on the *training* generator's
frames only (``research/vision_merge_train.py``), says whether they are one piece. Pairs it is sure of
are joined, best first.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

import cv2
import numpy as np

_K3 = np.ones((3, 3), np.uint8)

PAIR_FEATURES = (
    "log_area_small", "log_area_ratio", "contact_per_side", "contact_share_small", "solidity_union",
    "solidity_gain", "thickness_small", "thickness_ratio", "thickness_contact", "colour_step_local",
    "colour_step_mean", "lightness_step_local", "colour_spread", "elongation_union",
)


@dataclass(frozen=True)
class _Part:
    mask: np.ndarray       # uint8 0/1
    area: float
    perimeter: float
    solidity: float
    thickness: float       # largest inscribed radius [px at working resolution]
    lab_mean: np.ndarray   # (3,)
    lab_std: float


def _describe(mask: np.ndarray, lab: np.ndarray) -> _Part:
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    c = max(contours, key=cv2.contourArea)
    hull = cv2.contourArea(cv2.convexHull(c))
    area = float(mask.sum())
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    m = mask > 0
    px = lab[m]
    return _Part(mask, area, float(cv2.arcLength(c, True)), min(area / hull, 1.0) if hull > 0 else 1.0,
                 float(dist.max()), px.mean(0), float(px.std(0).mean()))


def _solidity(mask: np.ndarray) -> tuple[float, float]:
    """Solidity and elongation (minimum-area rectangle's long over short side) of a 0/1 mask."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    pts = np.concatenate(contours)
    hull = cv2.contourArea(cv2.convexHull(pts))
    (_, _), (w, h), _ = cv2.minAreaRect(pts)
    return (min(float(mask.sum()) / hull, 1.0) if hull > 0 else 1.0), max(w, h) / max(min(w, h), 1.0)


def pair_table(parts: list[np.ndarray], window: np.ndarray) -> tuple[list[tuple[int, int]], np.ndarray]:
    """The pairs of touching parts and their features (n_pairs, len(PAIR_FEATURES)).

    ``parts`` are uint8 0/1 masks of one blob (same shape as ``window``, the BGR image under it).
    """
    lab = cv2.cvtColor(np.ascontiguousarray(window), cv2.COLOR_BGR2LAB).astype(np.float32)
    desc = [_describe(p, lab) for p in parts]
    grown = [cv2.dilate(p, _K3) for p in parts]
    pairs, rows = [], []
    for a in range(len(parts)):
        for b in range(a + 1, len(parts)):
            contact = float((grown[a] & parts[b]).sum() + (grown[b] & parts[a]).sum()) / 2
            if contact <= 0:
                continue
            pa, pb = desc[a], desc[b]
            small, big = (pa, pb) if pa.area <= pb.area else (pb, pa)
            union = parts[a] | parts[b]
            sol_u, elong = _solidity(union)
            # colour on each side of the contact, within a few pixels of it
            near = cv2.dilate(grown[a] & grown[b], _K3, iterations=2) > 0
            side_a = near & (parts[a] > 0)
            side_b = near & (parts[b] > 0)
            if side_a.any() and side_b.any():
                la, lb = lab[side_a].mean(0), lab[side_b].mean(0)
            else:
                la, lb = pa.lab_mean, pb.lab_mean
            local = la - lb
            dist_u = cv2.distanceTransform(union, cv2.DIST_L2, 3)
            contact_thick = float(dist_u[near & (union > 0)].max()) if near.any() else 0.0
            spread = max(pa.lab_std, pb.lab_std, 2.0)
            rows.append([
                np.log(small.area), np.log(big.area / small.area), contact / max(np.sqrt(small.area), 1.0),
                contact / max(small.perimeter, 1.0), sol_u, sol_u - min(pa.solidity, pb.solidity),
                small.thickness, big.thickness / max(small.thickness, 0.5), contact_thick / max(
                    min(pa.thickness, pb.thickness), 0.5),
                float(np.linalg.norm(local[1:])) / spread, float(np.linalg.norm((pa.lab_mean - pb.lab_mean)[1:])) / spread,
                abs(float(local[0])) / spread, spread, elong,
            ])
            pairs.append((a, b))
    return pairs, np.array(rows, np.float32).reshape(-1, len(PAIR_FEATURES))


@dataclass(frozen=True)
class MergeModel:
    """Logistic regression on standardised pair features: p(one piece) = 1 / (1 + exp(-(w.z + b)))."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    intercept: float
    threshold: float = 0.5

    @classmethod
    def bundled(cls) -> MergeModel:
        """The coefficients in ``sorter/vision/merge_model.csv`` (written by research/vision_merge_train.py)."""
        text = resources.files("sorter.vision").joinpath("merge_model.csv").read_text(encoding="utf-8")
        rows = {r["feature"]: r for r in csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))}
        if [k for k in rows if k != "intercept"] != list(PAIR_FEATURES):
            raise ValueError("merge_model.csv: its features differ from PAIR_FEATURES; retrain it")
        f = list(PAIR_FEATURES)
        return cls(np.array([float(rows[k]["mean"]) for k in f], np.float32),
                   np.array([float(rows[k]["scale"]) for k in f], np.float32),
                   np.array([float(rows[k]["weight"]) for k in f], np.float32),
                   float(rows["intercept"]["weight"]), float(rows["intercept"]["scale"]))

    def probability(self, X: np.ndarray) -> np.ndarray:
        z = (X - self.mean) / self.scale
        return 1.0 / (1.0 + np.exp(-(z @ self.weights + self.intercept)))

    def merge(self, parts: list[np.ndarray], window: np.ndarray) -> list[np.ndarray]:
        """``parts`` with the pairs judged one piece joined (one pass: every pair is judged as split, and
        the pairs above the threshold are joined transitively)."""
        pairs, X = pair_table(parts, window)
        if not pairs:
            return parts
        p = self.probability(X)
        root = list(range(len(parts)))

        def find(i: int) -> int:
            while root[i] != i:
                i = root[i]
            return i

        for (a, b), pk in zip(pairs, p, strict=True):
            if pk >= self.threshold:
                root[find(b)] = find(a)
        groups: dict[int, np.ndarray] = {}
        for i, m in enumerate(parts):
            r = find(i)
            groups[r] = m if r not in groups else groups[r] | m
        return list(groups.values())
