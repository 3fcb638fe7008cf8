"""From frame to pieces: segment, measure, classify, track; one report per piece.

:class:`FrameAnalyzer` composes the steps of :mod:`sorter.vision` the way ``ModelChain`` composes
pvlib's functions; the CLI and the bench call it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from blending.errors import InputError
from sorter.vision.features import frame_features
from sorter.vision.runtime import VisionRuntime
from sorter.vision.segmentation import Detection, Segmenter
from sorter.vision.tracking import Tracker


@dataclass
class PieceReport:
    """What the camera says about one piece (the CLI's JSON object per piece)."""

    piece_id: int
    bbox: list[int]                  # x, y, w, h [px]
    centroid: list[float]            # x, y [px]
    area_mm2: float                  # [mm2]
    visual_class: str
    probabilities: dict[str, float]
    time_to_ejector_s: float         # from the frame's timestamp [s]
    frame_index: int = 0
    detection: Detection | None = field(default=None, repr=False)

    def to_json(self) -> dict:
        return {"piece_id": self.piece_id, "bbox": self.bbox, "centroid": self.centroid,
                "area_mm2": self.area_mm2, "visual_class": self.visual_class,
                "probabilities": self.probabilities, "time_to_ejector_s": self.time_to_ejector_s}


def time_to_ejector_s(centroid_x_px: float, px_per_mm: float, belt_speed_m_s: float, ejector_mm: float) -> float:
    """Seconds until a piece at ``centroid_x_px`` reaches the ejector ``ejector_mm`` downstream of the
    image's left edge, the belt moving towards +x at ``belt_speed_m_s`` [m/s]."""
    return (ejector_mm - centroid_x_px / px_per_mm) / (1000.0 * belt_speed_m_s)


@dataclass
class FrameAnalyzer:
    """Analyse frames of one camera.

    Parameters
    ----------
    px_per_mm : float
        Calibration [px/mm].
    belt_speed_m_s : float
        Belt speed [m/s].
    ejector_mm : float
        Distance of the ejector line from the image's left (upstream) edge along the belt [mm].
    track : bool
        Follow pieces across frames (the frames overlap and carry timestamps) [-].
    runtime : VisionRuntime or None
        The visual-class model (default: the bundled one).
    segmenter : Segmenter or None
        A segmenter already fitted to empty belt; default: one learned from the first frame.
    """

    px_per_mm: float = 1.5
    belt_speed_m_s: float = 2.5
    ejector_mm: float = 1500.0
    track: bool = True
    runtime: VisionRuntime | None = None
    segmenter: Segmenter | None = None

    def __post_init__(self):
        if not (self.px_per_mm > 0 and np.isfinite(self.px_per_mm)):
            raise InputError(f"px_per_mm: {self.px_per_mm}; must be a positive number", field="px_per_mm")
        if not (self.belt_speed_m_s > 0 and np.isfinite(self.belt_speed_m_s)):
            raise InputError(f"belt_speed_m_s: {self.belt_speed_m_s}; must be a positive number",
                             field="belt_speed_m_s")
        self.runtime = self.runtime or VisionRuntime.load()
        self.segmenter = self.segmenter or Segmenter()
        self.tracker = Tracker(self.px_per_mm, self.belt_speed_m_s)
        self._next_untracked_id = 1
        # a bigger or smaller picture scale than the model's: areas are in mm2, but pixel thresholds follow
        self.segmenter.min_area_px = 60.0 * self.px_per_mm**2

    def fit_empty(self, empty_frames: Sequence[np.ndarray]) -> FrameAnalyzer:
        self.segmenter.fit(empty_frames)
        return self

    def detect(self, image: np.ndarray) -> tuple[list[Detection], np.ndarray]:
        """Detections and their (n, classes) probabilities, without tracking."""
        seg = self.segmenter
        if not hasattr(seg, "background_") or seg.shape_ != image.shape[:2]:
            seg.fit_from_frame(image)
        dets = seg.segment(image)
        if not dets:
            return dets, np.zeros((0, len(self.runtime.classes)), np.float32)
        # one feature pass and one model call for the whole frame
        return dets, self.runtime.probabilities(frame_features(image, seg.background_, dets, self.px_per_mm))

    def analyze(self, image: np.ndarray, timestamp_s: float = 0.0, frame_index: int = 0) -> list[PieceReport]:
        """The pieces to report from this frame (with tracking: each piece once, see :mod:`tracking`)."""
        dets, proba = self.detect(image)
        reports = [self._report(d, p, frame_index) for d, p in zip(dets, proba, strict=True)]
        if not self.track:
            for r in reports:
                r.piece_id = self._next_untracked_id
                self._next_untracked_id += 1
            return reports
        ids = self.tracker.update(dets, timestamp_s, frame_index, payloads=reports)
        out = []
        for r, (pid, now) in zip(reports, ids, strict=True):
            r.piece_id = pid
            if now:
                out.append(r)
        return out

    def flush(self) -> list[PieceReport]:
        """Pieces still waiting for a whole view when the frames end (each carries its frame_index)."""
        out = []
        for pid, r in self.tracker.flush():
            r.piece_id = pid
            out.append(r)
        return out

    def _report(self, det: Detection, proba: np.ndarray, frame_index: int) -> PieceReport:
        classes = self.runtime.classes
        k = int(np.argmax(proba))
        return PieceReport(
            piece_id=0, bbox=[int(v) for v in det.bbox],
            centroid=[round(det.centroid[0], 1), round(det.centroid[1], 1)],
            area_mm2=round(det.area_px / self.px_per_mm**2, 1), visual_class=classes[k],
            probabilities={c: round(float(p), 4) for c, p in zip(classes, proba, strict=True)},
            time_to_ejector_s=round(time_to_ejector_s(det.centroid[0], self.px_per_mm, self.belt_speed_m_s,
                                                      self.ejector_mm), 4),
            frame_index=frame_index, detection=det)
