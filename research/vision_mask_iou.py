"""Where the mask IoU of matched pieces is lost: per kind, touching or alone, pixels missed or added.

Each held-out frame is segmented by the default :class:`Segmenter` and, when ``--set`` names parameters, by a
second one built with them, in the same process on the same frames. Detections are matched to the truth as the
bench does (IoU >= 0.5, pieces with at least ``--min-visible-mm2`` visible). Per kind of piece, and for pieces
touching another against those alone, it prints the matched count, the mean IoU, and the mean share of the true
mask missed and of the detection's mask that is belt or another piece, so a change of outline can be judged where
it acts; and the segmentation CPU time per frame of each segmenter (``time.thread_time``, medians). With
``--detect-ms`` it times instead the whole per-frame work (segmentation and classification) of both on the speed
bench's kind of frame.

Tune on seeds other than the benches' (800,000+ and 900,000+), e.g. ``--seed 920000``.

    python -m research.vision_mask_iou [--belts 3] [--frames 6] [--seed 920000] [--by-contact] [--set outline_band_px=0]
    python -m research.vision_mask_iou --detect-ms 20 --frames 20 --seed 820000 --set outline_band_px=0
"""

from __future__ import annotations

import argparse
import collections
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def _touching(labels: np.ndarray, n: int) -> set[int]:
    """Truth indices whose mask, grown by two pixels, meets another piece's."""
    k3 = np.ones((3, 3), np.uint8)
    out = set()
    for i in range(n):
        m = (labels == i + 1).astype(np.uint8)
        ring = cv2.dilate(m, k3, iterations=2) > 0
        others = np.unique(labels[ring])
        if np.any((others > 0) & (others != i + 1)):
            out.add(i)
    return out


def mask_errors(labels: np.ndarray, det, i: int, truth_area: int) -> tuple[float, float, float]:
    """For detection ``det`` matched to truth ``i`` (label i+1): the share of the true mask it misses, and the
    shares of its own mask that are belt and another piece [-]."""
    x, y, w, h = det.bbox
    ids = labels[y:y + h, x:x + w][det.mask]
    inside = int(np.count_nonzero(ids == i + 1))
    area = max(ids.size, 1)
    return (1 - inside / max(truth_area, 1), np.count_nonzero(ids == 0) / area,
            np.count_nonzero((ids > 0) & (ids != i + 1)) / area)


def detect_ms(variants: dict[str, dict], pieces: int, n_frames: int, seed: int, repeats: int = 5) -> None:
    """Median CPU time of this thread per frame [ms] of ``FrameAnalyzer.detect`` with each segmenter, the two timed
    in turn on each frame so that a busy machine slows both alike."""
    from dataclasses import replace

    from sorter.vision.pipeline import FrameAnalyzer
    from sorter.vision.runtime import VisionRuntime
    from sorter.vision.segmentation import Segmenter
    from sorter.vision.synthesis import Belt, SceneSettings, empty_frames

    # the speed bench's frames: one held-out belt laid with ``pieces`` per frame length on average
    s = SceneSettings.held_out()
    s = replace(s, pieces_per_m=pieces / (s.frame_length_mm / 1000))
    frames = [f.image for f in Belt(s, seed, n_frames).frames()]
    empties = empty_frames(s, seed, 3)
    rt = VisionRuntime.load(threads=1)
    analyzers = {v: FrameAnalyzer(px_per_mm=s.px_per_mm, belt_speed_m_s=s.belt_speed_m_s, runtime=rt,
                                  segmenter=Segmenter(**kw)).fit_empty(empties) for v, kw in variants.items()}
    cpu = {v: [] for v in variants}
    for a in analyzers.values():
        for f in frames[:3]:
            a.detect(f)
    for _ in range(repeats):
        for f in frames:
            for v, a in analyzers.items():
                c0 = time.thread_time()
                a.detect(f)
                cpu[v].append(1e3 * (time.thread_time() - c0))
    print(f"{len(frames)} frames from seed {seed}, {pieces} pieces per frame, {repeats} repeats; load "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    base = float(np.median(cpu["default"]))
    for v, kw in variants.items():
        med = float(np.median(cpu[v]))
        print(f"{v} {kw or ''}: detect median {med:.2f} ms CPU per frame ({med - base:+.2f} ms against the default)")


def main() -> None:
    from sorter.vision.evaluation import score_frame, summarise
    from sorter.vision.segmentation import Segmenter
    from sorter.vision.synthesis import Belt, SceneSettings, empty_frames

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--belts", type=int, default=3)
    ap.add_argument("--frames", type=int, default=6)
    ap.add_argument("--seed", type=int, default=920_000)
    ap.add_argument("--min-visible-mm2", type=float, default=100.0)
    ap.add_argument("--set", nargs="*", default=[], help="Segmenter parameters of the variant, name=value")
    ap.add_argument("--by-contact", action="store_true", help="each kind also split into touching and alone")
    ap.add_argument("--detect-ms", type=int, default=0, metavar="PIECES",
                    help="instead: time FrameAnalyzer.detect (segmentation + classification) of both segmenters on "
                         "the speed bench's frames laid with PIECES pieces per frame, interleaved, one thread")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    variants = {"default": {}}
    if args.set:
        variants["variant"] = {k: float(v) for k, v in (a.split("=") for a in args.set)}
    if args.detect_ms:
        detect_ms(variants, args.detect_ms, args.frames, args.seed)
        return

    s = SceneSettings.held_out()
    stats = {v: collections.defaultdict(list) for v in variants}   # (variant) -> group -> [(iou, miss, belt, other)]
    scores = {v: [] for v in variants}
    cpu_ms = {v: [] for v in variants}
    for b in range(args.belts):
        seed = args.seed + b
        empties = empty_frames(s, seed, 3)
        segs = {v: Segmenter(**kw).fit(empties) for v, kw in variants.items()}
        for fr in Belt(s, seed, args.frames).frames():
            n = len(fr.truth)
            area = np.bincount(fr.labels.ravel(), minlength=n + 1)[1:]
            small = {i for i, t in enumerate(fr.truth) if t["visible_area_mm2"] < args.min_visible_mm2}
            touching = _touching(fr.labels, n)
            for v, seg in segs.items():
                c0 = time.thread_time()
                dets = seg.segment(fr.image)
                cpu_ms[v].append(1e3 * (time.thread_time() - c0))
                sc = score_frame(fr.labels, dets)
                kept = [(i, j, u) for i, j, u in sc.matches if i not in small]
                matched_small = {j for i, j, _ in sc.matches if i in small}
                scores[v].append(type(sc)(n - len(small), len(dets) - len(matched_small), kept))
                for i, j, u in kept:
                    row = (u, *mask_errors(fr.labels, dets[j], i, int(area[i])))
                    kind = fr.truth[i]["kind"]
                    stats[v][kind].append(row)
                    if args.by_contact:
                        stats[v][kind + (" touching" if i in touching else " alone")].append(row)
                    stats[v]["(touching)" if i in touching else "(alone)"].append(row)
                    stats[v]["(all)"].append(row)

    print(f"{args.belts} held-out belts from seed {args.seed}, {args.frames} frames each; load "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for v, kw in variants.items():
        det = summarise(scores[v])
        print(f"{v} {kw or ''}: recall {det['recall']:.4f}, precision {det['precision']:.4f}, mean mask IoU "
              f"{det['mean_mask_iou']:.4f}; segmentation CPU median {np.median(cpu_ms[v]):.2f} ms per frame")
    groups = sorted(stats["default"], key=lambda g: (g.startswith("("), g))
    head = f"{'':18s}" + "".join(f"{v:>36s}" for v in variants)
    print(head)
    print(f"{'kind':18s}" + "".join(f"{'n':>6s}{'IoU':>8s}{'missed':>8s}{'belt':>7s}{'other':>7s}" for _ in variants))
    for g in groups:
        line = f"{g:18s}"
        for v in variants:
            a = np.array(stats[v].get(g, [(np.nan,) * 4]))
            line += f"{len(stats[v].get(g, [])):6d}" + "".join(f"{x:{w}.3f}" for x, w in zip(a.mean(0), (8, 8, 7, 7),
                                                                                                 strict=True))
        print(line)


if __name__ == "__main__":
    main()
