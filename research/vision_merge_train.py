"""Fit the fragment-merge model of :mod:`sorter.vision.merging` on the training generator's frames.

Every blob of a training frame is split as :class:`Segmenter` splits it (merging off); each pair of touching
parts is an example, labelled "one piece" when both parts are mostly the same true piece. A logistic
regression on the standardised pair features is fitted and its coefficients written to
``sorter/vision/merge_model.csv``; the same pairs from held-out frames (other generator settings, other
seeds) report its accuracy. Training seeds 500,000+ (``SceneSettings.training()``); held-out 910,000+.

    python -m research.vision_merge_train [--belts 40] [--held-out-belts 8] [--write]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def part_truth(labels: np.ndarray, oy: int, ox: int, s: int, parts: list[np.ndarray]) -> list[int]:
    """The true piece (label) holding most of each working-resolution part of a blob at (oy, ox); -1 if it is
    mostly belt or no piece holds half of it."""
    h, w = parts[0].shape
    lab = labels[oy * s:(oy + h) * s:s, ox * s:(ox + w) * s:s]
    ids = []
    for p in parts:
        v = lab[:p.shape[0], :p.shape[1]][p[:lab.shape[0], :lab.shape[1]] > 0]
        c = np.bincount(v, minlength=1)
        top = int(c.argmax())
        ids.append(top if top > 0 and c[top] >= 0.5 * v.size else -1)
    return ids


def pairs_of(settings, seed: int, frames: int = 6, segmenter=None, **seg_kw):
    from sorter.vision.merging import pair_table
    from sorter.vision.segmentation import Segmenter
    from sorter.vision.synthesis import Belt, empty_frames

    seg = (segmenter or Segmenter)(merge=False, **seg_kw).fit(empty_frames(settings, seed, 3))
    s = seg.scale
    X, y = [], []
    for fr in Belt(settings, seed, frames).frames():
        for oy, ox, _blob, window, parts in seg.blob_parts(fr.image):
            if len(parts) < 2:
                continue
            ids = part_truth(fr.labels, oy, ox, s, parts)
            pairs, F = pair_table(parts, window)
            for (a, b), f in zip(pairs, F, strict=True):
                X.append(f)
                y.append(int(ids[a] == ids[b] and ids[a] > 0))
    return X, y


def collect(settings, seeds, segmenter=None, **seg_kw):
    X, y = [], []
    for sd in seeds:
        a, b = pairs_of(settings, sd, segmenter=segmenter, **seg_kw)
        X += a
        y += b
    return np.array(X, np.float32), np.array(y, np.int64)


def main() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from sorter.vision.merging import PAIR_FEATURES
    from sorter.vision.synthesis import SceneSettings

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--belts", type=int, default=40)
    ap.add_argument("--held-out-belts", type=int, default=8)
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--out", default="", help="where to write the coefficients (default: the bundled file)")
    ap.add_argument("--set", nargs="*", default=[], help="Segmenter parameters, name=value")
    ap.add_argument("--variant-onnx", default="", help="fit on the parts of research.vision_core_train's variant"
                    " segmenter with this network")
    ap.add_argument("--variant-use", default="contacts", choices=("hybrid", "contacts"))
    ap.add_argument("--min-core", type=int, default=24)
    args = ap.parse_args()
    seg_kw = {k: float(v) for k, v in (a.split("=") for a in args.set)}
    cv2.setNumThreads(1)
    segmenter = None
    if args.variant_onnx:
        from research.vision_core_train import variant_segmenter

        segmenter, _ = variant_segmenter(args.variant_onnx, args.variant_use, args.min_core)
    X, y = collect(SceneSettings.training(), range(500_000, 500_000 + args.belts), segmenter, **seg_kw)
    Xh, yh = collect(SceneSettings.held_out(), range(910_000, 910_000 + args.held_out_belts), segmenter, **seg_kw)
    sc = StandardScaler().fit(X)
    lr = LogisticRegression(C=1.0, max_iter=2000, class_weight=None).fit(sc.transform(X), y)
    print(f"training pairs {len(y)} ({y.mean():.2f} one piece); held-out pairs {len(yh)} ({yh.mean():.2f})")
    for name, A, t in (("training", X, y), ("held-out", Xh, yh)):
        p = lr.predict_proba(sc.transform(A))[:, 1]
        pred = p >= args.threshold
        print(f"{name}: accuracy {np.mean(pred == t):.3f}; joined wrongly {np.sum(pred & (t == 0))}, "
              f"left apart wrongly {np.sum(~pred & (t == 1))}")
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier

        gb = HistGradientBoostingClassifier(max_depth=3, max_iter=150).fit(X, y)
        print(f"(gradient boosting for comparison, held-out accuracy {gb.score(Xh, yh):.3f})")
    except ImportError:
        pass
    for f, w in sorted(zip(PAIR_FEATURES, lr.coef_[0], strict=True), key=lambda r: -abs(r[1])):
        print(f"  {f:22s} {w:+.3f}")
    if args.write:
        bundled = Path(__file__).resolve().parents[1] / "sorter" / "vision" / "merge_model.csv"
        path = Path(args.out) if args.out else bundled
        lines = ["# logistic regression on standardised pair features; written by research/vision_merge_train.py",
                 f"# {len(y)} training pairs from SceneSettings.training() seeds 500000-{500_000 + args.belts - 1}",
                 "feature,mean,scale,weight,source"]
        for f, m, s_, w in zip(PAIR_FEATURES, sc.mean_, sc.scale_, lr.coef_[0], strict=True):
            lines.append(f"{f},{m:.6g},{s_:.6g},{w:.6g},fitted on simulated training frames")
        # the intercept row carries the decision threshold in its scale column
        lines.append(f"intercept,0,{args.threshold:g},{lr.intercept_[0]:.6g},fitted on simulated training frames")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
