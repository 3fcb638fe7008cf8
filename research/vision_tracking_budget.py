"""Why a piece is not reported exactly once across overlapping frames: each such piece, classified.

Runs :class:`FrameAnalyzer` with tracking over held-out belts as ``bench.vision_accuracy`` does, maps each
report to the true piece most of its mask covers, and for each piece seen (at least ``--min-visible-mm2``
visible in some frame) reported never or more than once says why:

* never, ``never detected``: no detection matched it at IoU >= 0.5 in any frame (a segmentation miss);
* never, ``taken by a neighbour``: detected in some frame, but its track was reported for another piece;
* twice, ``first report not clean``: a report did not match it at IoU >= 0.5 (a merged blob or a fragment);
* twice, ``clean views not joined``: two reports each matching it at IoU >= 0.5 (tracking lost it).

    python -m research.vision_tracking_budget [--belts 8] [--frames 6] [--seed 900000]
"""

from __future__ import annotations

import argparse
import collections
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def main() -> None:
    from sorter.vision.evaluation import detection_ious
    from sorter.vision.pipeline import FrameAnalyzer
    from sorter.vision.runtime import VisionRuntime
    from sorter.vision.segmentation import Segmenter
    from sorter.vision.synthesis import Belt, SceneSettings, empty_frames

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--belts", type=int, default=8)
    ap.add_argument("--frames", type=int, default=6)
    ap.add_argument("--seed", type=int, default=900_000)
    ap.add_argument("--min-visible-mm2", type=float, default=100.0)
    args = ap.parse_args()
    s = SceneSettings.held_out()
    rt = VisionRuntime.load()
    why = collections.Counter()
    kinds = collections.defaultdict(collections.Counter)
    n_seen = once = 0
    for b in range(args.belts):
        seed = args.seed + b
        an = FrameAnalyzer(px_per_mm=s.px_per_mm, belt_speed_m_s=s.belt_speed_m_s, runtime=rt,
                           segmenter=Segmenter()).fit_empty(empty_frames(s, seed, 3))
        seg = Segmenter().fit(empty_frames(s, seed, 3))   # the same segmentation, every detection of a frame
        frames = list(Belt(s, seed, args.frames).frames())
        reports = []
        clean: dict[int, int] = collections.Counter()   # piece -> frames where a detection matched it
        kind = {}
        seen = set()
        for fr in frames:
            out = an.analyze(fr.image, fr.timestamp_s, fr.index)
            reports += [(fr, r) for r in out]
            for t in fr.truth:
                kind[t["piece_id"]] = t["kind"]
                if t["visible_area_mm2"] >= args.min_visible_mm2:
                    seen.add(t["piece_id"])
            # which pieces a detection of this frame matched (the tracker saw it whole or not)
            dets = seg.segment(fr.image)
            iou = detection_ious(fr.labels, dets)
            for i in range(iou.shape[0]):
                if iou.shape[1] and iou[i].max() >= 0.5:
                    clean[fr.truth[i]["piece_id"]] += 1
        reports += [(frames[r.frame_index], r) for r in an.flush()]
        per_piece = collections.defaultdict(list)
        for fr, r in reports:
            d = r.detection
            x, y, w, h = d.bbox
            ids = fr.labels[y:y + h, x:x + w][d.mask]
            ids = ids[ids > 0]
            if not ids.size:
                continue
            i = int(np.bincount(ids).argmax()) - 1
            pid = fr.truth[i]["piece_id"]
            ok = detection_ious(fr.labels, [d])[i, 0] >= 0.5
            per_piece[pid].append(ok)
        for pid in seen:
            n_seen += 1
            rs = per_piece.get(pid, [])
            if len(rs) == 1:
                once += 1
                continue
            if not rs:
                w = "never: never detected" if clean[pid] == 0 else "never: taken by a neighbour"
            elif all(rs):
                w = "twice: clean views not joined"
            else:
                w = "twice: first report not clean"
            why[w] += 1
            kinds[w][kind[pid]] += 1
    print(f"{once}/{n_seen} pieces reported exactly once")
    for k, v in why.most_common():
        print(f"  {k:34s} {v:4d}   " + ", ".join(f"{a} {c}" for a, c in kinds[k].most_common(6)))


if __name__ == "__main__":
    main()
