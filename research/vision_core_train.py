"""A small convolutional network for the markers of touching pieces: trained here, judged on held-out frames.

With the true cores of the pieces as watershed markers, the product's own foreground and watershed find 0.991
of the held-out pieces at precision 0.985 (``python -m research.vision_colour_split --experiment true-cores``);
with its shape markers (neck cuts, distance-transform cores) 0.92. This script asks how much of that gap a
network small enough for the frame budget closes. Not the product: it needs PyTorch (``pip install
torch==2.13.0``, the CPU build), which aluloop does not depend on.

* **Input**, at the segmenter's working resolution (half the frame's): the frame over the belt model minus
  one (B, G, R; belt is 0 whatever the light) and the foreground mask.
* **Targets**, at half that resolution (max-pooled from the frame's truth): ``cores`` (the inner part of each
  piece: distance to its visible outline, contacts with other pieces included, at least ``--share`` of its
  largest) or ``contacts`` (piece pixels within 2 px of another piece).
* **Network**: three strided 3x3 convolutions (``--width`` channels c1, c2, c2), two dilated ones (2, 4), two
  nearest-neighbour upsamplings with skip connections (c3 channels); about 150 M multiply-adds on a 640x360
  input at widths 8,16,8, 3.6-5 ms on one core with onnxruntime. Binary cross-entropy (positives weighted 3)
  plus a Dice term, Adam with a one-cycle schedule, random 256 px crops, flips and a light gain.
* **Data**: the training generator (``SceneSettings.training()``), seeds 600,000+; judged on the held-out
  generator, tuning seeds 930,000+ (not the bench's).
* **Use in the segmenter**, as judged here (the network through the product's runtime, so an ONNX file judged
  needs its card beside it, as training writes): ``--use alone`` (the network's cores are the only markers of each
  blob), ``--use hybrid`` (the product's split and merge first; then a part holding two or more cores of at
  least ``--min-core`` px is cut again by a watershed from them), ``--use contacts`` (a part is cut where the
  network sees contacts: the components of the part minus the grown contact pixels are the markers).

    python -m research.vision_core_train [--target cores] [--use hybrid] [--belts 80] [--steps 5000]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def network_input(seg, img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(4, h/2, w/2) float32 input (the product's, :func:`sorter.vision.contacts.network_input`) and the
    foreground; updates the segmenter's belt model as ``segment`` does."""
    from sorter.vision.contacts import network_input as product_input

    small = seg._small(img)
    fg = seg.foreground(img, small)
    return product_input(small, seg.background_, fg)[0], fg


def _pool4(mask: np.ndarray) -> np.ndarray:
    H, W = mask.shape
    return mask.astype(np.uint8).reshape(H // 4, 4, W // 4, 4).max(axis=(1, 3))


def core_target(labels: np.ndarray, share: float) -> np.ndarray:
    """(H/4, W/4) uint8: 1 where a piece's distance to its own visible outline is at least ``share`` of its largest."""
    core = np.zeros(labels.shape, np.uint8)
    for i in range(1, int(labels.max()) + 1):
        ys, xs = np.nonzero(labels == i)
        if len(ys) < 20:
            continue
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        m = np.zeros((y1 - y0 + 2, x1 - x0 + 2), np.uint8)
        m[1:-1, 1:-1] = labels[y0:y1, x0:x1] == i
        d = cv2.distanceTransform(m, cv2.DIST_L2, 3)
        core[y0:y1, x0:x1] |= (d >= share * d.max())[1:-1, 1:-1].astype(np.uint8)
    return _pool4(core)


def contact_target(labels: np.ndarray, r: int = 2) -> np.ndarray:
    """(H/4, W/4) uint8: 1 where a piece pixel lies within ``r`` px of another piece."""
    L = labels.astype(np.float32)
    k = np.ones((2 * r + 1, 2 * r + 1), np.uint8)
    hi = cv2.dilate(L, k)
    lo = cv2.erode(np.where(labels > 0, L, np.float32(1e6)), k)
    return _pool4((labels > 0) & ((hi != L) | ((lo != L) & (lo < 1e6))))


def coarser(X: np.ndarray, Y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs as the mean and targets as the maximum of k x k blocks: a network that reads a coarser copy."""
    if k == 1:
        return X, Y
    n, c, h, w = X.shape
    Xk = X.reshape(n, c, h // k, k, w // k, k).astype(np.float32).mean(axis=(3, 5)).astype(np.float16)
    Yk = Y.reshape(n, Y.shape[1] // k, k, Y.shape[2] // k, k).max(axis=(2, 4))
    return Xk, Yk


def training_set(belts: int, target: str, share: float):
    from sorter.vision.segmentation import Segmenter
    from sorter.vision.synthesis import Belt, SceneSettings, empty_frames

    settings = SceneSettings.training()
    X, Y = [], []
    for seed in range(600_000, 600_000 + belts):
        seg = Segmenter().fit(empty_frames(settings, seed, 3))
        for fr in Belt(settings, seed, 6).frames():
            x, _ = network_input(seg, fr.image)
            X.append(x.astype(np.float16))
            Y.append(core_target(fr.labels, share) if target == "cores" else contact_target(fr.labels))
    return np.stack(X), np.stack(Y)


def build(width: tuple[int, int, int]):
    import torch
    import torch.nn.functional as F
    from torch import nn

    c1, c2, c3 = width

    class CoreNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1, self.l2 = nn.Conv2d(4, c1, 3, 2, 1), nn.Conv2d(c1, c2, 3, 2, 1)
            self.l3 = nn.Conv2d(c2, c2, 3, 2, 1)
            self.d1, self.d2 = nn.Conv2d(c2, c2, 3, 1, 2, dilation=2), nn.Conv2d(c2, c2, 3, 1, 4, dilation=4)
            self.r = nn.Conv2d(c2, c3, 1)
            self.u1, self.u2 = nn.Conv2d(c3 + c2, c3, 3, 1, 1), nn.Conv2d(c3 + c1, c3, 3, 1, 1)
            self.out = nn.Conv2d(c3, 1, 1)

        def forward(self, x):
            a = F.relu(self.l1(x))
            b = F.relu(self.l2(a))
            c = F.relu(self.r(F.relu(self.d2(F.relu(self.d1(F.relu(self.l3(b))))))))
            u = F.relu(self.u1(torch.cat([F.interpolate(c, scale_factor=2, mode="nearest"), b], 1)))
            u = F.relu(self.u2(torch.cat([F.interpolate(u, scale_factor=2, mode="nearest"), a], 1)))
            return self.out(u)

    return CoreNet()


def train(X, Y, width, steps: int, seed: int = 0, crop: int = 256, batch: int = 12, threads: int = 2):
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    net = build(width)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    h, w = X.shape[2:]
    from rich.progress import track

    for _ in track(range(steps), description="training"):
        xs, ys = [], []
        for i in rng.integers(0, len(X), batch):
            y0 = int(rng.integers(0, (h - crop) // 2 + 1)) * 2
            x0 = int(rng.integers(0, (w - crop) // 2 + 1)) * 2
            x = X[i, :, y0:y0 + crop, x0:x0 + crop].astype(np.float32)
            y = Y[i, y0 // 2:(y0 + crop) // 2, x0 // 2:(x0 + crop) // 2]
            if rng.random() < 0.5:
                x, y = x[:, :, ::-1], y[:, ::-1]
            if rng.random() < 0.5:
                x, y = x[:, ::-1], y[::-1]
            x = x.copy()
            x[:3] = (x[:3] + 1) * np.float32(rng.uniform(0.9, 1.1)) - 1   # the belt model follows the light imperfectly
            xs.append(x)
            ys.append(y.copy())
        xb = torch.from_numpy(np.stack(xs))
        yb = torch.from_numpy(np.stack(ys)).float()[:, None]
        logit = net(xb)
        p = torch.sigmoid(logit)
        loss = F.binary_cross_entropy_with_logits(logit, yb, pos_weight=torch.tensor(3.0))
        loss = loss + 1 - (2 * (p * yb).sum() + 1) / (p.sum() + yb.sum() + 1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return net.eval()


def to_onnx(net, path: str, input_scale: int = 1) -> None:
    import torch

    h, w = 360 // input_scale, 640 // input_scale   # a working-resolution frame of 1280x720, padded to 8
    torch.onnx.export(net, torch.zeros(1, 4, h + -h % 8, w + -w % 8), path, input_names=["x"], output_names=["logit"],
                      dynamic_axes={"x": {2: "h", 3: "w"}, "logit": {2: "h2", 3: "w2"}}, dynamo=False)


def write_card(onnx_path: str, *, target: str, share: float, belts: int, steps: int, width: str,
               metrics: dict, input_scale: int = 1, batch: int = 12) -> None:
    """The model card beside ``onnx_path`` (the runtime refuses a network whose sha256 differs from it)."""
    import platform
    from dataclasses import asdict
    from datetime import UTC, datetime
    from pathlib import Path

    import onnx
    import torch

    from sorter.serving.card import sha256_bytes
    from sorter.vision.card import VisionCard
    from sorter.vision.contacts import INPUT_NAMES
    from sorter.vision.synthesis import SceneSettings

    path = Path(onnx_path)
    data = path.read_bytes()
    settings = SceneSettings.training()
    card = VisionCard(
        name=path.stem, classes=[target[:-1]], feature_names=list(INPUT_NAMES), px_per_mm=settings.px_per_mm,
        model_sha256=sha256_bytes(data),
        training_data={"source": "sorter.vision.synthesis", "settings": asdict(settings),
                       "seeds": f"600000-{600_000 + belts - 1}", "frames": 6 * belts,
                       "target": target, "share": share if target == "cores" else None,
                       "input_scale": input_scale,
                       "network": f"widths {width}, {steps} steps of {batch} random {256 // input_scale} px crops"},
        metrics=metrics,
        libraries={"python": platform.python_version(), "torch": torch.__version__, "onnx": onnx.__version__},
        reproduce=(f"pip install torch==2.13.0 && python -m research.vision_core_train --target {target} "
                   f"--belts {belts} --steps {steps} --width {width} --input-scale {input_scale} "
                   f"--batch {batch} --out {onnx_path}"),
        created_utc=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    card.write(path.with_name(path.stem + ".card.json"))


def variant_segmenter(onnx_path: str, use: str, min_core: int):
    """A Segmenter class that uses the network as ``use`` says, and a [seconds, calls] timer of the network."""
    from sorter.vision import markers
    from sorter.vision.contacts import ContactModel, cut_at_contacts
    from sorter.vision.segmentation import Segmenter, blobs

    model = ContactModel.load(onnx_path)   # its card says how coarse a copy of the input it reads
    net_s = [0.0, 0]

    def predict(seg, img, fg):
        t = time.thread_time()
        out = model.contacts(seg._small(img), seg.background_, fg)
        net_s[0] += time.thread_time() - t
        net_s[1] += 1
        return out

    def cut(part, window, markers_of, min_area):
        seeds, n = markers.regions(markers_of, min_core)
        if n < 2:
            return [part]
        return markers.grow(seeds, n, part, window, min_area) or [part]

    class Variant(Segmenter):
        def __init__(self, **kw):
            kw.setdefault("contacts", False)   # the product's own contact network off: this one instead
            super().__init__(**kw)

        def blob_parts(self, img):
            s = self.scale
            min_area = self.min_area_px / (s * s)
            if use == "alone":
                small = self._small(img)
                fg = self.foreground(img, small)
                net = predict(self, img, fg)
                for oy, ox, blob in blobs(fg, min_area, self.max_hole_px / (s * s)):
                    window = small[oy:oy + blob.shape[0], ox:ox + blob.shape[1]]
                    c = net[oy:oy + blob.shape[0], ox:ox + blob.shape[1]] & blob
                    yield oy, ox, blob, window, cut(blob, window, c, min_area)
                return
            for oy, ox, blob, window, parts in super().blob_parts(img):
                if window is None:
                    yield oy, ox, blob, window, parts
                    continue
                net = self.net_[oy:oy + blob.shape[0], ox:ox + blob.shape[1]]
                out = []
                for p in parts:
                    if use == "hybrid":
                        out += cut(p, window, net & p, min_area)
                    else:   # contacts: the product's cut along them
                        out += cut_at_contacts(p, window, net, min_core, min_area)
                yield oy, ox, blob, window, out

        def foreground(self, img, small=None):
            fg = super().foreground(img, small)
            if use != "alone":
                self.net_ = predict(self, img, fg)
            return fg

    return Variant, net_s


def judge(onnx_path: str, use: str, belts: int, seed0: int, min_core: int, merge_csv: str = "",
          seg_kw: dict | None = None) -> str:
    """Recall, precision and mean mask IoU on held-out frames, the product's segmenter and the variant."""
    from sorter.vision.evaluation import score_frame, visible_only
    from sorter.vision.merging import MergeModel
    from sorter.vision.segmentation import Segmenter
    from sorter.vision.synthesis import Belt, SceneSettings, empty_frames

    Variant, net_s = variant_segmenter(onnx_path, use, min_core)
    s_held = SceneSettings.held_out()
    lines = []
    for name, cls in (("product, no network", lambda: Segmenter(contacts=False)), ("product", Segmenter),
                      (f"network ({use})", Variant)):
        n_truth = n_det = tp = 0
        ious = []
        for seed in range(seed0, seed0 + belts):
            seg = (Variant(**(seg_kw or {})) if cls is Variant else cls()).fit(empty_frames(s_held, seed, 3))
            if merge_csv and cls is Variant:
                seg.merge_model_ = MergeModel.from_csv(open(merge_csv, encoding="utf-8").read())
            for fr in Belt(s_held, seed, 6).frames():
                dets = seg.segment(fr.image)
                sc = visible_only(score_frame(fr.labels, dets), fr.truth, 100.0)
                n_truth, n_det, tp = n_truth + sc.n_truth, n_det + sc.n_detected, tp + sc.true_positives
                ious += [u for *_, u in sc.matches]
        lines.append(f"{name:22s} recall {tp / n_truth:.3f}  precision {tp / n_det:.3f}  mean mask IoU "
                     f"{np.mean(ious):.3f}  ({n_truth} pieces, seeds {seed0}-{seed0 + belts - 1})")
    lines.append(f"network with its input: {1e3 * net_s[0] / max(net_s[1], 1):.2f} ms CPU per frame, one thread")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", choices=("cores", "contacts"), default="cores")
    ap.add_argument("--share", type=float, default=0.65, help="cores: share of a piece's largest distance")
    ap.add_argument("--use", choices=("alone", "hybrid", "contacts"), default="hybrid")
    ap.add_argument("--belts", type=int, default=80, help="training belts (6 frames each)")
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--width", default="8,16,8", help="channels c1,c2,c3")
    ap.add_argument("--input-scale", type=int, default=1,
                    help="train a network that reads the working-resolution input shrunk this many times (2: a"
                         " quarter of the frame's resolution; its card says so, and the runtime follows it)")
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--min-core", type=int, default=24, help="markers smaller than this are dropped [working px]")
    ap.add_argument("--judge-belts", type=int, default=8)
    ap.add_argument("--judge-seed", type=int, default=930_000)
    ap.add_argument("--onnx", default="", help="judge this network instead of training one")
    ap.add_argument("--out", default="core_net.onnx")
    ap.add_argument("--set", nargs="*", default=[], help="the variant's Segmenter parameters, name=value")
    ap.add_argument("--merge-model", default="", help="judge with this merge_model.csv (research.vision_merge_train"
                    " --variant-onnx writes one for the variant's parts)")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    path = args.onnx
    if not path:
        X, Y = coarser(*training_set(args.belts, args.target, args.share), args.input_scale)
        net = train(X, Y, tuple(int(v) for v in args.width.split(",")), args.steps,
                    crop=256 // args.input_scale, batch=args.batch, threads=args.threads)
        to_onnx(net, args.out, args.input_scale)
        path = args.out
        write_card(path, target=args.target, share=args.share, belts=args.belts, steps=args.steps,
                   width=args.width, metrics={}, input_scale=args.input_scale, batch=args.batch)
    print(judge(path, args.use, args.judge_belts, args.judge_seed, args.min_core, args.merge_model,
                {k: float(v) for k, v in (a.split("=") for a in args.set)}))


if __name__ == "__main__":
    main()
