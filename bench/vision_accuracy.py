"""Camera accuracy on held-out frames, and fusion against LIBS alone on painted cans.

Held-out frames come from :meth:`SceneSettings.held_out` (other light level, gradient, drift and colour
cast, longer motion blur, more noise, JPEG quality 85, a denser belt with more touching pieces) on
seeds the model never saw. Figures:

* detection recall and precision at IoU >= 0.5 and the mean mask IoU of the matches, counting the
  true pieces with at least ``--min-visible-mm2`` visible (a sliver at the frame's edge is the next
  frame's piece), touching and overlapping pieces included; the same with every visible piece;
* each piece reported once: with tracking over the overlapping frames, the share of true pieces
  reported exactly once (against reporting every detection of every frame, the baseline);
* visual-class accuracy of the bundled model on the matched detections;
* grade accuracy on painted (lacquered) cans of 3104 and 5182, LIBS alone (bundled broadband model,
  ``--shots`` shots, no cleaning shots) against the fusion of :mod:`sorter.vision.fusion`, with the
  camera probabilities of held-out painted-can detections; the same on bare 6063/6082/5754 profiles
  with bare-wrought camera probabilities, to show fusion does not cost the uncoated pieces. The LIBS
  side's "first shots read coating" flag is taken from the simulation (surface share of the first
  shot above 0.5): the surface check itself is not part of this bench.

    python -m bench.vision_accuracy [--belts 8] [--frames 6] [--pieces 60] [--refine-solidity 0.75]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from bench.results import Figure, write  # noqa: E402

TARGET_DETECTION = 0.99
TARGET_MASK_IOU = 0.90
TARGET_CLASS = 0.95


def detection_and_class(belts: int, frames: int, seed: int, min_visible_mm2: float, refine_solidity: float = 0.0):
    from sorter.vision.evaluation import score_frame, summarise, visible_only
    from sorter.vision.features import frame_features
    from sorter.vision.pipeline import FrameAnalyzer
    from sorter.vision.runtime import VisionRuntime
    from sorter.vision.segmentation import Segmenter
    from sorter.vision.synthesis import Belt, SceneSettings, empty_frames

    s = SceneSettings.held_out()
    rt = VisionRuntime.load()
    scores, scores_all, right, total = [], [], 0, 0
    cam_by_class: dict[str, list[np.ndarray]] = {}
    once = more = never = 0
    naive_once = naive_total = 0
    for b in range(belts):
        bseed = seed + b
        empties = empty_frames(s, bseed, 3)
        seg = Segmenter(refine_solidity=refine_solidity).fit(empties)
        analyzer = FrameAnalyzer(px_per_mm=s.px_per_mm, belt_speed_m_s=s.belt_speed_m_s, runtime=rt,
                                 segmenter=Segmenter(refine_solidity=refine_solidity)).fit_empty(empties)
        belt = Belt(s, bseed, frames)
        reported: dict[int, int] = {}
        seen: set[int] = set()
        rendered = list(belt.frames())
        reports = []
        for fr in rendered:
            dets = seg.segment(fr.image)
            # score only the pieces big enough to see; small slivers neither count nor penalise
            small = {i for i, t in enumerate(fr.truth) if t["visible_area_mm2"] < min_visible_mm2}
            sc = score_frame(fr.labels, dets)
            scores_all.append(sc)
            sc_big = visible_only(sc, fr.truth, min_visible_mm2)
            kept = sc_big.matches
            scores.append(sc_big)
            seen |= {t["piece_id"] for i, t in enumerate(fr.truth) if i not in small}
            if kept:
                X = frame_features(fr.image, seg.background_, [dets[j] for _, j, _ in kept], s.px_per_mm)
                proba = rt.probabilities(X)
                for (i, _, _), p in zip(kept, proba, strict=True):
                    cls = fr.truth[i]["visual_class"]
                    right += rt.classes[int(np.argmax(p))] == cls
                    total += 1
                    cam_by_class.setdefault(cls, []).append(p)
            reports += [(fr, r) for r in analyzer.analyze(fr.image, fr.timestamp_s, fr.index)]
            naive_total += len(dets)
        reports += [(rendered[r.frame_index], r) for r in analyzer.flush()]
        for fr, r in reports:
            d = r.detection
            x, y, w, h = d.bbox
            ids = fr.labels[y:y + h, x:x + w][d.mask]
            ids = ids[ids > 0]
            if ids.size:
                pid = fr.truth[int(np.bincount(ids).argmax()) - 1]["piece_id"]
                reported[pid] = reported.get(pid, 0) + 1
        once += sum(1 for p in seen if reported.get(p, 0) == 1)
        more += sum(1 for p in seen if reported.get(p, 0) > 1)
        never += sum(1 for p in seen if reported.get(p, 0) == 0)
        naive_once += len(seen)
    det = summarise(scores)
    det_all = summarise(scores_all)
    return det, det_all, right / max(total, 1), total, cam_by_class, (once, more, never, naive_total, naive_once), \
        rt.classes


def fusion_on_cans(n: int, shots: int, seed: int, cam_by_class: dict[str, list[np.ndarray]], classes: list[str]):
    from sorter.grades import sample_composition
    from sorter.serving.runtime import LibsRuntime
    from sorter.shots import ShotPlan
    from sorter.simulate import simulate_piece_shots
    from sorter.vision.fusion import fuse

    rt = LibsRuntime.load(_bundled("broadband.onnx"))
    rng = np.random.default_rng(seed)
    out = {}
    for label, grades, surface, cam_class in [("painted cans", ("3104", "5182"), "lacquer", "painted_can"),
                                               ("bare profiles and sheet", ("6063", "6082", "5754"), None,
                                                "bare_wrought")]:
        cams = cam_by_class.get(cam_class, [])
        libs_ok = fused_ok = 0
        for k in range(n):
            g = grades[k % len(grades)]
            batch = simulate_piece_shots(sample_composition(g, rng), "broadband", int(rng.integers(1 << 30)),
                                         ShotPlan(n_shots=shots, surface=surface), label=g)
            x, _ = rt.to_grid(batch.wavelength_nm, batch.intensity.mean(0)[None])
            p = rt.run(x)["probabilities"][0]
            libs = dict(zip(rt.classes, map(float, p), strict=True))
            libs_ok += max(libs, key=libs.get) == g
            cam = dict(zip(classes, map(float, cams[int(rng.integers(len(cams)))]), strict=True)) if cams else {}
            coating = bool(batch.meta["surface_fraction"][0] > 0.5)
            d = fuse(libs, cam or {"bare_wrought": 1.0}, reads_coating=coating)
            fused_ok += d.grade == g
        out[label] = (libs_ok / n, fused_ok / n, len(cams))
    return out


def _bundled(name: str):
    from sorter.serving.registry import models_dir

    return models_dir() / name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--belts", type=int, default=8, help="held-out belts (seeds)")
    ap.add_argument("--frames", type=int, default=6, help="overlapping frames per belt")
    ap.add_argument("--seed", type=int, default=900_000)
    ap.add_argument("--min-visible-mm2", type=float, default=100.0)
    ap.add_argument("--pieces", type=int, default=60, help="simulated LIBS pieces per fusion group")
    ap.add_argument("--shots", type=int, default=4, help="LIBS shots per piece (no cleaning shots)")
    ap.add_argument("--refine-solidity", type=float, default=0.0,
                    help="segment blobs of lower solidity again at full resolution (0: off, the default)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    det, det_all, acc, n_cls, cams, (once, more, never, naive_total, naive_once), classes = detection_and_class(
        args.belts, args.frames, args.seed, args.min_visible_mm2)
    refined = None
    if args.refine_solidity > 0:
        refined = detection_and_class(args.belts, args.frames, args.seed, args.min_visible_mm2, args.refine_solidity)
    fusion = fusion_on_cans(args.pieces, args.shots, args.seed, cams, classes)
    n_seen = once + more + never
    print(f"held-out detection (visible >= {args.min_visible_mm2:g} mm2): recall {det['recall']:.3f}, precision "
          f"{det['precision']:.3f}, mean mask IoU {det['mean_mask_iou']:.3f} over {det['n_truth']} pieces")
    print(f"every visible piece: recall {det_all['recall']:.3f}, precision {det_all['precision']:.3f}")
    print(f"tracking: {once}/{n_seen} pieces reported exactly once, {more} more than once, {never} never; "
          f"without tracking {naive_total} reports for {naive_once} pieces")
    extra = []
    if refined is not None:
        rdet, _, racc, rn, _, (ronce, rmore, rnever, _, _), _ = refined
        rn_seen = ronce + rmore + rnever
        print(f"with full-resolution refinement below solidity {args.refine_solidity:g}: recall {rdet['recall']:.3f}, "
              f"precision {rdet['precision']:.3f}, mean mask IoU {rdet['mean_mask_iou']:.3f}; {ronce}/{rn_seen} "
              f"reported exactly once, {rmore} more, {rnever} never; visual class accuracy {racc:.3f} on {rn}")
        tag = f"full-resolution refinement below solidity {args.refine_solidity:g}"
        extra = [
            Figure(f"detection recall at IoU >= 0.5, {tag}", round(rdet["recall"], 4), "share",
                   baseline="the default segmenter, same frames", baseline_value=round(det["recall"], 4),
                   ratio=rdet["recall"] / max(det["recall"], 1e-9), target=f">= {TARGET_DETECTION}",
                   met=rdet["recall"] >= TARGET_DETECTION),
            Figure(f"detection precision at IoU >= 0.5, {tag}", round(rdet["precision"], 4), "share",
                   baseline="the default segmenter, same frames", baseline_value=round(det["precision"], 4),
                   ratio=rdet["precision"] / max(det["precision"], 1e-9), target=f">= {TARGET_DETECTION}",
                   met=rdet["precision"] >= TARGET_DETECTION),
            Figure(f"mean mask IoU of matched pieces, {tag}", round(rdet["mean_mask_iou"], 4), "IoU",
                   baseline="the default segmenter, same frames", baseline_value=round(det["mean_mask_iou"], 4),
                   target=f">= {TARGET_MASK_IOU}", met=rdet["mean_mask_iou"] >= TARGET_MASK_IOU),
            Figure(f"pieces reported exactly once, {tag}", round(ronce / max(rn_seen, 1), 4), "share",
                   baseline="the default segmenter, same frames", baseline_value=round(once / max(n_seen, 1), 4),
                   target="1.0", met=ronce == rn_seen, note=f"{rmore} reported twice or more, {rnever} never"),
        ]
    print(f"visual class accuracy {acc:.3f} on {n_cls} matched detections")
    for k, (libs, fused, ncam) in fusion.items():
        print(f"{k}: grade accuracy LIBS alone {libs:.3f}, fused {fused:.3f} ({args.pieces} pieces, "
              f"{ncam} camera posteriors)")
    print(f"{time.perf_counter() - t0:.0f} s")
    cans = fusion["painted cans"]
    bare = fusion["bare profiles and sheet"]
    write("vision_accuracy", [
        Figure("detection recall at IoU >= 0.5, held-out frames", round(det["recall"], 4), "share",
               target=f">= {TARGET_DETECTION}", met=det["recall"] >= TARGET_DETECTION,
               note=f"{det['n_truth']} pieces with >= {args.min_visible_mm2:g} mm2 visible; all visible: "
                    f"{det_all['recall']:.3f}"),
        Figure("detection precision at IoU >= 0.5, held-out frames", round(det["precision"], 4), "share",
               target=f">= {TARGET_DETECTION}", met=det["precision"] >= TARGET_DETECTION),
        Figure("mean mask IoU of matched pieces", round(det["mean_mask_iou"], 4), "IoU",
               target=f">= {TARGET_MASK_IOU}", met=det["mean_mask_iou"] >= TARGET_MASK_IOU),
        Figure("pieces reported exactly once across overlapping frames", round(once / max(n_seen, 1), 4), "share",
               baseline="reports without tracking per true piece", baseline_value=round(naive_total / max(
                   naive_once, 1), 3), target="1.0", met=once == n_seen,
               note=f"{more} reported twice or more, {never} never (missed by the segmenter)"),
        Figure("visual class accuracy, held-out frames", round(acc, 4), "share", target=f">= {TARGET_CLASS}",
               met=acc >= TARGET_CLASS, note=f"{n_cls} detections"),
        Figure(f"grade accuracy on painted cans, LIBS {args.shots} shots + camera", round(cans[1], 4), "share",
               baseline="LIBS alone", baseline_value=round(cans[0], 4),
               ratio=(cans[1] / cans[0]) if cans[0] > 0 else None, target="above LIBS alone",
               met=cans[1] > cans[0], note="lacquered 3104 and 5182"),
        Figure(f"grade accuracy on bare wrought, LIBS {args.shots} shots + camera", round(bare[1], 4), "share",
               baseline="LIBS alone", baseline_value=round(bare[0], 4),
               ratio=(bare[1] / bare[0]) if bare[0] > 0 else None, target="no worse than LIBS alone",
               met=bare[1] >= bare[0], note="6063, 6082, 5754 without coating"),
        *extra,
    ], title="Camera: detection, tracking, visual class and fusion on held-out frames")


if __name__ == "__main__":
    main()
