"""Can colour edges split the touching pieces that the shape leaves merged? Two experiments, not the product.

The error budget (``research/vision_error_budget.py``) puts most missed pieces in one bucket: two touching
pieces whose contact leaves no concavity and one distance-transform core, so the segmenter proposes no split.
Most such pairs differ in colour (rubber against aluminium, plastic against stainless, brass against sheet), so
colour is the cue left. Both experiments below run on held-out frames of tuning seeds (930,000+ by default; the
bench's 900,000+ are not used to choose anything) and print recall, precision and mean mask IoU at IoU >= 0.5
with the same counting as ``bench.vision_accuracy`` (pieces with at least 100 mm2 visible). The segmenter they
start from is the product's without its contact network (``Segmenter(contacts=False)``), which these
experiments came before.

``--experiment seeds``: over-segment, then join with a learned pair model. Each neck-cut part of a blob is
seeded from its regions of one colour (CIE Lab gradient below ``--step`` Lab units per working pixel, at least
0.3 of the minimum piece area) instead of its distance-transform cores; the watershed grows them, and a pair
model (the ten features of :mod:`sorter.vision.merging` plus raw chroma and lightness steps across the contact,
the colour gradient on the contact, alone and against the parts' inner gradient, and the solidity the union
gains) fitted on the training generator (seeds 500,000+) joins the fragments of one piece, either all pairs
above the threshold at once or the best pair at a time (``--agglomerate``). With ``--oracle`` the truth joins
them instead: the ceiling of the proposals.

``--experiment two-colours``: a conservative split after the product's own split and merge. A part whose
pixels fall into two k-means colour clusters far apart (chroma >= ``--chroma``, or lightness >= ``--lightness``),
each cluster mostly one connected region, neither a clipped highlight (L >= 240 on OpenCV's 0-255 scale: a brass
piece's specular band), is cut in two by a watershed from the two regions.

    python -m research.vision_colour_split --experiment seeds [--oracle] [--agglomerate] [--step 6]
    python -m research.vision_colour_split --experiment two-colours [--chroma 35] [--lightness 120]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from sorter.vision.markers import grow  # noqa: E402

_K3 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))


def colour_gradient(window: np.ndarray, sigma_px: float = 1.0, lightness_weight: float = 0.5) -> np.ndarray:
    """Squared magnitude of the Lab gradient of a BGR window [(Lab units/px)^2]; lightness counts at its weight."""
    lab = cv2.GaussianBlur(cv2.cvtColor(np.ascontiguousarray(window), cv2.COLOR_BGR2LAB).astype(np.float32),
                           (0, 0), sigma_px)
    gx = cv2.Sobel(lab, cv2.CV_32F, 1, 0, ksize=3, scale=0.125)   # Sobel's 3x3 kernel answers 8 per unit slope
    gy = cv2.Sobel(lab, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)
    w = np.float32([lightness_weight, 1.0, 1.0])
    return cv2.transform(gx * gx + gy * gy, (w * w).reshape(1, 3))


def _solidity(mask: np.ndarray) -> float:
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = cv2.contourArea(cv2.convexHull(np.vstack(contours))) if contours else 0.0
    return min(float(cv2.countNonZero(mask)) / hull, 1.0) if hull > 0 else 1.0


def pair_features(parts: list[np.ndarray], window: np.ndarray):
    """The product's ten pair features and five about colour edges and convexity, per touching pair."""
    from sorter.vision.merging import pair_table

    pairs, base = pair_table(parts, window)
    if not pairs:
        return pairs, base
    lab = cv2.cvtColor(np.ascontiguousarray(window), cv2.COLOR_BGR2LAB).astype(np.float32)
    grad = cv2.sqrt(colour_gradient(window))
    inner = [cv2.mean(grad, cv2.erode(p, _K3) if cv2.countNonZero(cv2.erode(p, _K3)) else p)[0] for p in parts]
    solid = [_solidity(p) for p in parts]
    extra = []
    for a, b in pairs:
        meet = cv2.dilate(parts[a], _K3) & cv2.dilate(parts[b], _K3)
        near = cv2.dilate(meet, _K3, iterations=2)
        sa, sb = near & parts[a], near & parts[b]
        if cv2.countNonZero(sa) and cv2.countNonZero(sb):
            d = np.subtract(cv2.mean(lab, sa)[:3], cv2.mean(lab, sb)[:3])
        else:
            d = np.subtract(cv2.mean(lab, parts[a])[:3], cv2.mean(lab, parts[b])[:3])
        edge = cv2.mean(grad, meet)[0]
        extra.append([float(np.hypot(d[1], d[2])), abs(float(d[0])), edge, edge / (max(inner[a], inner[b]) + 1.0),
                      _solidity(parts[a] | parts[b]) - min(solid[a], solid[b])])
    return pairs, np.hstack([base, np.array(extra, np.float32)])


def seeded_segmenter(step: float):
    """A Segmenter whose parts are seeded by regions of one colour where a part has two or more of them."""
    from sorter.vision.segmentation import Segmenter, split_at_necks

    class ColourSeeded(Segmenter):
        def _split(self, blob, window, min_area, min_defect):
            parts = split_at_necks(blob, min_defect, self.max_cut_ratio, min_area)
            calm = (colour_gradient(window) < step ** 2).astype(np.uint8)
            markers = np.zeros(blob.shape, np.int32)
            k = 1
            for part in parts:
                n, regions, stats, _ = cv2.connectedComponentsWithStats(calm & cv2.erode(part, _K3), connectivity=4)
                seeds = [i for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= 0.3 * min_area]
                if len(seeds) >= 2:
                    for i in seeds:
                        markers[regions == i] = k
                        k += 1
                    continue
                dist = cv2.distanceTransform(part, cv2.DIST_L2, 3)
                m, cores = cv2.connectedComponents((dist > self.split_share * dist.max()).astype(np.uint8))
                if m <= 2:
                    markers[cv2.erode(part, _K3) > 0 if len(parts) > 1 else part > 0] = k
                    k += 1
                    continue
                for j in range(1, m):
                    markers[cores == j] = k
                    k += 1
            if k == 2:
                return [blob]
            return grow(markers, k - 1, blob, window, min_area)

    return ColourSeeded


def fit_pair_model(step: float, belts: int):
    """A gradient-boosted pair model on the training generator's proposals (seeds 500,000+)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from research.vision_merge_train import part_truth
    from sorter.vision.synthesis import Belt, SceneSettings, empty_frames

    settings = SceneSettings.training()
    X, y = [], []
    for seed in range(500_000, 500_000 + belts):
        seg = seeded_segmenter(step)(merge=False, contacts=False).fit(empty_frames(settings, seed, 3))
        for fr in Belt(settings, seed, 6).frames():
            for oy, ox, _blob, window, parts in seg.blob_parts(fr.image):
                if window is None or len(parts) < 2:
                    continue
                ids = part_truth(fr.labels, oy, ox, seg.scale, parts)
                pairs, F = pair_features(parts, window)
                X += list(F)
                y += [int(ids[a] == ids[b] and ids[a] > 0) for a, b in pairs]
    return HistGradientBoostingClassifier(max_depth=3, max_iter=150).fit(np.array(X), np.array(y))


def join(parts, window, model, threshold: float, agglomerate: bool):
    """Join the pairs the model judges one piece: all above the threshold at once, or the best at a time."""
    while len(parts) > 1:
        pairs, F = pair_features(parts, window)
        if not pairs:
            break
        p = model.predict_proba(F)[:, 1]
        if agglomerate:
            k = int(np.argmax(p))
            if p[k] < threshold:
                break
            a, b = pairs[k]
            parts = [q for i, q in enumerate(parts) if i not in (a, b)] + [parts[a] | parts[b]]
            continue
        root = list(range(len(parts)))

        def find(i, root=root):
            while root[i] != i:
                i = root[i]
            return i

        for (a, b), pk in zip(pairs, p, strict=True):
            if pk >= threshold:
                root[find(b)] = find(a)
        groups: dict[int, np.ndarray] = {}
        for i, m in enumerate(parts):
            groups[find(i)] = m if find(i) not in groups else groups[find(i)] | m
        return list(groups.values())
    return parts


def two_colour_split(part, window, min_area: float, chroma: float, lightness: float, highlight_l: float = 240.0):
    """``part`` cut in two along a colour boundary, or ``[part]`` (see the module's docstring)."""
    inner = cv2.erode(part, _K3)
    if cv2.countNonZero(part) < 2 * min_area:
        return [part]
    lab = cv2.GaussianBlur(cv2.cvtColor(np.ascontiguousarray(window), cv2.COLOR_BGR2LAB).astype(np.float32),
                           (0, 0), 1.0)
    pts = lab[inner > 0]
    if len(pts) < 2 * min_area:
        return [part]
    sd = pts.std(0)
    if max(sd[1], sd[2]) < chroma / 4 and sd[0] < lightness / 4:
        return [part]
    w = np.float32([0.5, 1, 1])
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 0.5)
    _, lbl, centres = cv2.kmeans(pts * w, 2, None, crit, 2, cv2.KMEANS_PP_CENTERS)
    centres = centres / w
    d = centres[0] - centres[1]
    if np.hypot(d[1], d[2]) < chroma and abs(d[0]) < lightness:
        return [part]
    if centres[:, 0].max() >= highlight_l:
        return [part]
    cluster = np.zeros(part.shape, np.uint8)
    cluster[inner > 0] = lbl.ravel() + 1
    markers = np.zeros(part.shape, np.int32)
    for c in (1, 2):
        m = cv2.morphologyEx((cluster == c).astype(np.uint8), cv2.MORPH_OPEN, _K3)
        n, lab_c, st, _ = cv2.connectedComponentsWithStats(m, connectivity=4)
        if n < 2:
            return [part]
        big = 1 + int(np.argmax(st[1:, cv2.CC_STAT_AREA]))
        if st[big, cv2.CC_STAT_AREA] < max(min_area, 0.85 * (cluster == c).sum()):
            return [part]
        markers[lab_c == big] = c
    out = grow(markers, 2, part, window, 0)
    return out if min(cv2.countNonZero(o) for o in out) >= min_area else [part]


def true_core_split(labels, oy: int, ox: int, s: int, blob, window, min_area: float) -> list[np.ndarray]:
    """The blob split by a watershed from the true pieces' cores (distance above half its maximum, per piece):
    what a perfect marker model (a learned centre map) would give with this foreground and watershed."""
    h, w = blob.shape
    lab = np.zeros((h, w), np.int32)
    sub = labels[oy * s:(oy + h) * s:s, ox * s:(ox + w) * s:s]
    lab[:sub.shape[0], :sub.shape[1]] = sub
    markers = np.zeros((h, w), np.int32)
    k = 1
    for i in np.unique(lab[blob > 0]):
        if i == 0:
            continue
        m = ((lab == i) & (blob > 0)).astype(np.uint8)
        if cv2.countNonZero(m) < min_area / 2:
            continue
        dist = cv2.distanceTransform(m, cv2.DIST_L2, 3)
        markers[dist >= 0.5 * dist.max()] = k
        k += 1
    if k <= 2:
        return [blob]
    return grow(markers, k - 1, blob, window, min_area)


def main() -> None:
    from sorter.vision.evaluation import score_frame, visible_only
    from sorter.vision.segmentation import Segmenter, _thickness
    from sorter.vision.synthesis import Belt, SceneSettings, empty_frames

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", choices=("seeds", "two-colours", "true-cores"), required=True)
    ap.add_argument("--belts", type=int, default=4)
    ap.add_argument("--seed", type=int, default=930_000)
    ap.add_argument("--step", type=float, default=6.0, help="Lab gradient below which a pixel is calm [Lab/px]")
    ap.add_argument("--oracle", action="store_true", help="join the proposals by the truth (their ceiling)")
    ap.add_argument("--agglomerate", action="store_true")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--training-belts", type=int, default=20)
    ap.add_argument("--chroma", type=float, default=35.0, help="two-colours: chroma step that splits [Lab units]")
    ap.add_argument("--lightness", type=float, default=120.0, help="two-colours: lightness step that splits")
    args = ap.parse_args()
    cv2.setNumThreads(1)

    s_held = SceneSettings.held_out()
    model = None
    if args.experiment == "seeds" and not args.oracle:
        model = fit_pair_model(args.step, args.training_belts)
    labels_now: list[np.ndarray] = []

    def segment(seg, img, variant: bool):
        s = seg.scale
        pieces = []
        min_area = seg.min_area_px / (s * s)
        for oy, ox, blob, window, parts in seg.blob_parts(img):
            if window is None:
                pieces += parts
                continue
            if not parts:
                continue
            if variant and args.experiment == "true-cores":
                parts = true_core_split(labels_now[0], oy, ox, s, blob, window, min_area)
            elif variant and args.experiment == "seeds" and len(parts) > 1:
                if args.oracle:
                    from research.vision_merge_train import part_truth

                    ids = part_truth(labels_now[0], oy, ox, s, parts)
                    groups: dict[int, np.ndarray] = {}
                    for i, p in zip(ids, parts, strict=True):
                        key = i if i > 0 else -id(p)
                        groups[key] = p if key not in groups else groups[key] | p
                    parts = list(groups.values())
                else:
                    parts = join(parts, window, model, args.threshold, args.agglomerate)
            elif len(parts) > 1 and seg.merge:
                parts = seg.merge_model_.merge(parts, window)
            if variant and args.experiment == "two-colours":
                parts = [q for p in parts for q in two_colour_split(p, window, min_area, args.chroma, args.lightness)]
            if s > 1 and seg.refine_thin_px > 0 and _thickness(blob) <= seg.refine_thin_px:
                pieces += seg._refine_edges(img, oy, ox, parts)
                continue
            pieces += [(oy, ox, p, s) for p in parts]
        return seg._detections(pieces, img)

    for variant in (False, True):
        n_truth = n_det = tp = 0
        ious = []
        for b in range(args.belts):
            seed = args.seed + b
            cls = seeded_segmenter(args.step) if variant and args.experiment == "seeds" else Segmenter
            seg = cls(contacts=False).fit(empty_frames(s_held, seed, 3))
            for fr in Belt(s_held, seed, 6).frames():
                labels_now[:] = [fr.labels]
                dets = segment(seg, fr.image, variant)
                sc = visible_only(score_frame(fr.labels, dets), fr.truth, 100.0)
                n_truth, n_det, tp = n_truth + sc.n_truth, n_det + sc.n_detected, tp + sc.true_positives
                ious += [u for *_, u in sc.matches]
        name = "product" if not variant else f"{args.experiment}{' oracle' if args.oracle else ''}"
        print(f"{name:22s} recall {tp / n_truth:.3f}  precision {tp / n_det:.3f}  mean mask IoU {np.mean(ious):.3f}"
              f"  ({n_truth} pieces, seeds {args.seed}-{args.seed + args.belts - 1})")


if __name__ == "__main__":
    main()
