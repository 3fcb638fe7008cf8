"""Detection scores against a frame's truth: matches at IoU >= 0.5, recall, precision, mask IoU."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sorter.vision.segmentation import Detection


@dataclass
class FrameScore:
    n_truth: int
    n_detected: int
    matches: list[tuple[int, int, float]]   # (truth index, detection index, IoU)

    @property
    def true_positives(self) -> int:
        return len(self.matches)


def detection_ious(labels: np.ndarray, detections: Sequence[Detection]) -> np.ndarray:
    """(n_truth, n_detected) IoU of each truth mask (label i+1) with each detection mask."""
    n_truth = int(labels.max())
    truth_area = np.bincount(labels.ravel(), minlength=n_truth + 1)
    out = np.zeros((n_truth, len(detections)))
    for j, d in enumerate(detections):
        x, y, w, h = d.bbox
        inside = labels[y:y + h, x:x + w][d.mask]
        inter = np.bincount(inside, minlength=n_truth + 1)
        area = d.mask.sum()
        for i in np.nonzero(inter[1:])[0]:
            out[i, j] = inter[i + 1] / (truth_area[i + 1] + area - inter[i + 1])
    return out


def score_frame(labels: np.ndarray, detections: Sequence[Detection], min_iou: float = 0.5) -> FrameScore:
    """Greedy one-to-one matching by IoU (at IoU > 0.5 a match is unique anyway)."""
    iou = detection_ious(labels, detections)
    matches = []
    if iou.size:
        order = np.dstack(np.unravel_index(np.argsort(-iou, axis=None), iou.shape))[0]
        used_t, used_d = set(), set()
        for i, j in order:
            if iou[i, j] < min_iou:
                break
            if i in used_t or j in used_d:
                continue
            used_t.add(i)
            used_d.add(j)
            matches.append((int(i), int(j), float(iou[i, j])))
    return FrameScore(iou.shape[0], len(detections), matches)


def visible_only(score: FrameScore, truth: Sequence[dict], min_visible_mm2: float) -> FrameScore:
    """``score`` counting only the true pieces with at least ``min_visible_mm2`` visible: a sliver at the frame's
    edge is the next frame's piece, so neither it nor the detection matched to it counts."""
    small = {i for i, t in enumerate(truth) if t["visible_area_mm2"] < min_visible_mm2}
    matched_small = {j for i, j, _ in score.matches if i in small}
    return FrameScore(score.n_truth - len(small), score.n_detected - len(matched_small),
                      [m for m in score.matches if m[0] not in small])


def summarise(scores: Sequence[FrameScore]) -> dict[str, float]:
    tp = sum(s.true_positives for s in scores)
    n_t = sum(s.n_truth for s in scores)
    n_d = sum(s.n_detected for s in scores)
    ious = [m[2] for s in scores for m in s.matches]
    return {"recall": tp / n_t if n_t else 1.0, "precision": tp / n_d if n_d else 1.0,
            "mean_mask_iou": float(np.mean(ious)) if ious else 0.0, "n_truth": n_t, "n_detected": n_d}
