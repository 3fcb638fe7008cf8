"""One piece, one report: follow pieces across overlapping frames by the belt's displacement.

Pieces lie still on the belt, so in belt coordinates (``x_px / px_per_mm - 1000 v t`` [mm] along the
belt, ``y_px / px_per_mm`` across) a piece's box does not move between frames. A detection whose
belt box overlaps a live track's (intersection over the smaller box above ``min_overlap``) is that
track; otherwise it starts a new one. Matching is one-to-one, best overlap first.

When to report: a piece cut by the upstream edge (the left edge: it is still coming in) waits for
the next frame, which sees it whole; a piece seen whole, or cut by the downstream edge before it was
reported (it is leaving), is reported at once. :meth:`Tracker.flush` reports what is still waiting
when the frames end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sorter.vision.segmentation import Detection


@dataclass
class Track:
    piece_id: int
    box_mm: tuple[float, float, float, float]     # x0, y0, x1, y1 in belt coordinates [mm]
    last_frame: int
    reported: bool = False
    pending: object = None                        # what to report at flush, if never reported


@dataclass
class Tracker:
    """Tracks of pieces in belt coordinates.

    Parameters
    ----------
    px_per_mm : float
        Calibration [px/mm].
    belt_speed_m_s : float
        Belt speed [m/s]; the belt moves towards +x.
    min_overlap : float
        Intersection over the smaller box for a match [-].
    max_age_frames : int
        A track not seen for this many frames is dropped [-].
    """

    px_per_mm: float
    belt_speed_m_s: float
    min_overlap: float = 0.4
    max_age_frames: int = 3
    tracks: list[Track] = field(default_factory=list)
    next_id: int = 1

    def belt_box(self, det: Detection, timestamp_s: float) -> tuple[float, float, float, float]:
        x, y, w, h = det.bbox
        shift = 1000 * self.belt_speed_m_s * timestamp_s
        s = self.px_per_mm
        return (x / s - shift, y / s, (x + w) / s - shift, (y + h) / s)

    def update(self, detections: list[Detection], timestamp_s: float, frame_index: int,
               payloads: list | None = None) -> list[tuple[int, bool]]:
        """(piece_id, report_now) per detection, in order; ``payloads[i]`` is kept for a later flush."""
        boxes = [self.belt_box(d, timestamp_s) for d in detections]
        live = [t for t in self.tracks if frame_index - t.last_frame <= self.max_age_frames]
        pairs = []
        for i, b in enumerate(boxes):
            for j, t in enumerate(live):
                o = _overlap(b, t.box_mm)
                if o >= self.min_overlap:
                    pairs.append((o, i, j))
        pairs.sort(reverse=True)
        assigned: dict[int, Track] = {}
        used = set()
        for _, i, j in pairs:
            if i in assigned or j in used:
                continue
            assigned[i] = live[j]
            used.add(j)
        out = []
        for i, det in enumerate(detections):
            track = assigned.get(i)
            if track is None:
                track = Track(self.next_id, boxes[i], frame_index)
                self.next_id += 1
                live.append(track)
            entering, leaving = det.touches_edge
            # the box of a whole view is the truth; a cut view never widens a whole one
            if not entering and not leaving:
                track.box_mm = boxes[i]
            else:
                track.box_mm = _union(track.box_mm, boxes[i])
            track.last_frame = frame_index
            report = not track.reported and not entering
            if report:
                track.reported = True
                track.pending = None
            elif not track.reported:
                track.pending = payloads[i] if payloads else (frame_index, i)
            out.append((track.piece_id, report))
        self.tracks = live
        return out

    def flush(self) -> list[tuple[int, object]]:
        """(piece_id, payload) of every piece seen but never reported; they count as reported now."""
        out = []
        for t in self.tracks:
            if not t.reported and t.pending is not None:
                out.append((t.piece_id, t.pending))
                t.reported = True
        return out


def _overlap(a, b) -> float:
    ix = min(a[2], b[2]) - max(a[0], b[0])
    iy = min(a[3], b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return 0.0
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    return ix * iy / max(min(area_a, area_b), 1e-9)


def _union(a, b):
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
