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
    "log_area_small", "log_area_ratio", "contact_per_side", "thickness_small", "thickness_ratio",
    "thickness_contact", "colour_step_local", "colour_step_mean", "lightness_step_local", "colour_spread",
)


def pair_table(parts: list[np.ndarray], window: np.ndarray) -> tuple[list[tuple[int, int]], np.ndarray]:
    """The pairs of touching parts and their features (n_pairs, len(PAIR_FEATURES)).

    ``parts`` are uint8 0/1 masks of one blob (same shape as ``window``, the BGR image under it). A part's
    thickness is the largest inscribed radius of the whole blob inside it [px]; the colour is CIE Lab.
    """
    lab = cv2.cvtColor(np.ascontiguousarray(window), cv2.COLOR_BGR2LAB).astype(np.float32)
    union = parts[0].copy()
    for p in parts[1:]:
        union |= p
    dist = cv2.distanceTransform(union, cv2.DIST_L2, 3)
    # OpenCV's masked statistics: several times quicker than numpy's boolean indexing on these small windows
    area = [float(cv2.countNonZero(p)) for p in parts]
    thick = [cv2.minMaxLoc(dist, p)[1] for p in parts]
    stats = [cv2.meanStdDev(lab, mask=p) for p in parts]
    mean = [m.ravel() for m, _ in stats]
    spread = [float(s.mean()) for _, s in stats]
    grown = [cv2.dilate(p, _K3) for p in parts]
    pairs, rows = [], []
    for a in range(len(parts)):
        for b in range(a + 1, len(parts)):
            meet = grown[a] & grown[b]
            contact = cv2.countNonZero(meet) / 2
            if contact <= 0:
                continue
            sa, sb = (a, b) if area[a] <= area[b] else (b, a)
            # colour on each side of the contact, within a few pixels of it
            near = cv2.dilate(meet, _K3, iterations=2)
            side_a, side_b = near & parts[a], near & parts[b]
            if cv2.countNonZero(side_a) and cv2.countNonZero(side_b):
                local = np.subtract(cv2.mean(lab, side_a)[:3], cv2.mean(lab, side_b)[:3])
                contact_thick = cv2.minMaxLoc(dist, near)[1]
            else:
                local = mean[a] - mean[b]
                contact_thick = 0.0
            sp = max(spread[a], spread[b], 2.0)
            rows.append([
                np.log(area[sa]), np.log(area[sb] / area[sa]), contact / max(np.sqrt(area[sa]), 1.0),
                thick[sa], thick[sb] / max(thick[sa], 0.5), contact_thick / max(min(thick[a], thick[b]), 0.5),
                float(np.linalg.norm(local[1:])) / sp, float(np.linalg.norm((mean[a] - mean[b])[1:])) / sp,
                abs(float(local[0])) / sp, sp,
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
        return cls.from_csv(resources.files("sorter.vision").joinpath("merge_model.csv").read_text(encoding="utf-8"))

    @classmethod
    def from_csv(cls, text: str) -> MergeModel:
        """Coefficients from the text of a ``merge_model.csv``."""
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
