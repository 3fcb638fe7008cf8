"""Where the camera's detection errors come from: every miss and false detection on held-out frames, classified.

For each held-out frame the segmenter's detections are matched to the truth (IoU >= 0.5, as the bench). Each
true piece with at least ``--min-visible-mm2`` visible that no detection matches is put in one bucket:

* ``merged``: most of it lies in one detection that also holds most of another true piece;
* ``split``: it is spread over two or more detections, none of which reaches IoU 0.5;
* ``missed``: less than half of it is in any detection (low contrast against the belt);
* ``poor mask``: one detection holds most of it, alone, but the IoU stays below 0.5 (shadow, blur);

and each unmatched detection in one: ``fragment`` (mostly one true piece, a part of it), ``merged`` (holds
most of two or more true pieces), ``belt`` (mostly belt or shadow), ``sliver`` (mostly a piece below the
visible-area floor), ``other``. Each bucket is broken down by the piece's kind, whether it touches another
piece, lies at the frame's edge or is partly hidden.

    python -m research.vision_error_budget [--belts 4] [--frames 6] [--seed 900000] [--refine-solidity 0]
"""

from __future__ import annotations

import argparse
import collections
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def main() -> None:
    from sorter.vision.evaluation import detection_ious, score_frame
    from sorter.vision.segmentation import Segmenter
    from sorter.vision.synthesis import Belt, SceneSettings, empty_frames

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--belts", type=int, default=4)
    ap.add_argument("--frames", type=int, default=6)
    ap.add_argument("--seed", type=int, default=900_000)
    ap.add_argument("--min-visible-mm2", type=float, default=100.0)
    ap.add_argument("--refine-solidity", type=float, default=0.0)
    ap.add_argument("--merge-model", default="", help="a merge_model.csv other than the bundled one")
    ap.add_argument("--show", type=int, default=0, help="print this many examples per bucket")
    ap.add_argument("--set", nargs="*", default=[], help="Segmenter parameters, name=value")
    args = ap.parse_args()
    seg_kw = {k: float(v) for k, v in (a.split("=") for a in args.set)}

    s = SceneSettings.held_out()
    miss = collections.Counter()
    fp = collections.Counter()
    miss_kind = collections.defaultdict(collections.Counter)
    fp_kind = collections.defaultdict(collections.Counter)
    n_truth = n_det = tp = 0
    examples = collections.defaultdict(list)
    k3 = np.ones((3, 3), np.uint8)
    for b in range(args.belts):
        seed = args.seed + b
        seg = Segmenter(refine_solidity=args.refine_solidity, **seg_kw).fit(empty_frames(s, seed, 3))
        if args.merge_model:
            from pathlib import Path

            from sorter.vision.merging import MergeModel

            seg.merge_model_ = MergeModel.from_csv(Path(args.merge_model).read_text(encoding="utf-8"))
        for fr in Belt(s, seed, args.frames).frames():
            dets = seg.segment(fr.image)
            sc = score_frame(fr.labels, dets)
            iou = detection_ious(fr.labels, dets)
            n = len(fr.truth)
            area = np.bincount(fr.labels.ravel(), minlength=n + 1)[1:]
            # share of truth i inside detection j, and share of detection j from truth i
            inter = np.zeros((n, len(dets)))
            det_area = np.zeros(len(dets))
            for j, d in enumerate(dets):
                x, y, w, h = d.bbox
                ids = fr.labels[y:y + h, x:x + w][d.mask]
                inter[:, j] = np.bincount(ids, minlength=n + 1)[1:]
                det_area[j] = d.mask.sum()
            share_t = inter / np.maximum(area[:, None], 1)
            share_d = inter / np.maximum(det_area[None, :], 1)
            small = {i for i, t in enumerate(fr.truth) if t["visible_area_mm2"] < args.min_visible_mm2}
            matched_t = {i for i, _, _ in sc.matches}
            matched_d = {j for _, j, _ in sc.matches}
            # touching: the piece's dilated mask meets another piece's label
            touching = set()
            for i in range(n):
                m = (fr.labels == i + 1).astype(np.uint8)
                ring = cv2.dilate(m, k3, iterations=2) > 0
                others = np.unique(fr.labels[ring])
                if np.any((others > 0) & (others != i + 1)):
                    touching.add(i)
            # parted: the visible part is two or more pieces of at least a tenth of it (a wire crossed by another)
            parted = set()
            for i in range(n):
                m = (fr.labels == i + 1).astype(np.uint8)
                k, _, st, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
                if k > 2 and (st[1:, cv2.CC_STAT_AREA] >= 0.1 * area[i]).sum() >= 2:
                    parted.add(i)
            n_truth += n - len(small)
            n_det += len(dets) - len({j for i, j, _ in sc.matches if i in small})
            tp += sum(1 for i, _, _ in sc.matches if i not in small)

            def tags(i, fr=fr, touching=touching, parted=parted):
                t = fr.truth[i]
                out = []
                if i in touching:
                    out.append("touching")
                if not t["complete"]:
                    out.append("edge")
                if t["visible_area_mm2"] < 0.5 * t["area_mm2"] * (1 if t["complete"] else 0):
                    out.append("mostly hidden")
                elif t["visible_area_mm2"] < 0.9 * t["area_mm2"] and t["complete"]:
                    out.append("hidden")
                if i in parted:
                    out.append("parted")
                return "+".join(out) or "alone"

            for i in range(n):
                if i in small or i in matched_t:
                    continue
                j = int(np.argmax(share_t[i])) if len(dets) else -1
                if j < 0 or share_t[i].max() < 0.5:
                    if share_t[i].sum() >= 0.6 and (share_t[i] > 0.15).sum() >= 2:
                        bucket = "split"
                    else:
                        bucket = "missed"
                else:
                    others = [k for k in range(n) if k != i and share_t[k, j] > 0.5]
                    bucket = "merged" if others else "poor mask"
                miss[bucket] += 1
                miss_kind[bucket][f"{fr.truth[i]['kind']} ({tags(i)})"] += 1
                if len(examples["miss " + bucket]) < args.show:
                    examples["miss " + bucket].append((seed, fr.index, fr.truth[i]["bbox"], fr.truth[i]["kind"],
                                                       round(float(iou[i].max()) if len(dets) else 0, 2)))
            for j in range(len(dets)):
                if j in matched_d:
                    continue
                col = share_d[:, j]
                big = [i for i in range(n) if share_t[i, j] > 0.5]
                if col.sum() < 0.5:
                    bucket, i = "belt", None
                elif len(big) >= 2:
                    bucket, i = "merged", int(np.argmax(col))
                else:
                    i = int(np.argmax(col))
                    if i in small:
                        bucket = "sliver"
                    elif col[i] >= 0.6:
                        bucket = "fragment"
                    else:
                        bucket = "other"
                if bucket == "sliver":
                    continue   # not counted by the bench either
                fp[bucket] += 1
                name = fr.truth[i]["kind"] + f" ({tags(i)})" if i is not None else "-"
                fp_kind[bucket][name] += 1
                if len(examples["fp " + bucket]) < args.show:
                    examples["fp " + bucket].append((seed, fr.index, list(dets[j].bbox), name,
                                                     round(float(iou[:, j].max()) if n else 0, 2)))
    print(f"{n_truth} true pieces, {n_det} detections, {tp} matched: recall {tp / n_truth:.3f}, "
          f"precision {tp / n_det:.3f}")
    print(f"misses ({sum(miss.values())}):")
    for k, v in miss.most_common():
        print(f"  {k:10s} {v:4d}   " + ", ".join(f"{a} {c}" for a, c in miss_kind[k].most_common(8)))
    print(f"false detections ({sum(fp.values())}):")
    for k, v in fp.most_common():
        print(f"  {k:10s} {v:4d}   " + ", ".join(f"{a} {c}" for a, c in fp_kind[k].most_common(8)))
    for k, v in examples.items():
        print(k, v)


if __name__ == "__main__":
    main()
