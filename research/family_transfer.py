"""Exploration for issue 30 item 4: which family features and classifier carry to another simulator.

Draws domain-randomised spectra from our simulator (wide plasma ranges, random smooth spectral
responses, continua, resolutions, pixel pitches and wavelength offsets; single shots), computes
thin-line ratios of the family-defining elements to nearby Al lines on a model grid, trains a
family classifier and scores it on ``peer_libs/train.npz`` (the plant data a designer could have;
``test.npz`` is kept for the final score in ``bench/peer_transfer.py``).

    python -m research.family_transfer --model highres --n-per-grade 40
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PEER = ROOT.parent / "shared" / "peer_libs"


def main() -> None:
    from sorter.instruments import get_instrument
    from sorter.io import load_batch
    from sorter.preprocess.grid import resample
    from sorter.serving.families import family_of
    from sorter.training.family_head import family_line_names, fit_family_head, randomised_batch

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="highres")
    ap.add_argument("--n-per-grade", type=int, default=40)
    ap.add_argument("--chunks", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--half-width-nm", type=float, default=0.45)
    ap.add_argument("--jitter-dex", type=float, default=0.3)
    ap.add_argument("--names", default="", help="windows, comma-separated (default: sorter/data/family_lines.csv)")
    ap.add_argument("--hidden", default="64", help="hidden layer sizes to try, e.g. 64,128x64")
    ap.add_argument("--lo-nm", type=float, default=0.0)
    ap.add_argument("--hi-nm", type=float, default=1e4)
    ap.add_argument("--cache", default="/tmp/family_sim")
    ap.add_argument("--agreement", action="store_true", help="print, for every candidate window, how well its "
                    "ratio orders the grades of train.npz as our simulator does (Spearman rho of the medians)")
    args = ap.parse_args()
    grid = get_instrument(args.model).wavelength_nm
    cache = Path(f"{args.cache}_{args.model}_{args.n_per_grade}_{args.chunks}_{args.seed}.npz")
    t0 = time.process_time()
    if cache.exists():
        d = np.load(cache)
        X, y = d["X"], d["y"]
    else:
        X, y = randomised_batch(grid, args.n_per_grade, args.chunks, args.seed)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, X=X, y=y)
    print(f"simulated {len(y)} spectra ({time.process_time() - t0:.0f} s CPU)")
    peer = load_batch(PEER / "train.npz")
    Xp = resample(peer.wavelength_nm, peer.intensity.astype(np.float64), grid)
    fam_p = np.array([family_of(g) for g in peer.labels])

    if args.agreement:
        agreement(grid, X, y, Xp, peer.labels, args.half_width_nm)
        return
    names = args.names.split(",") if args.names else family_line_names()
    for hidden in [tuple(int(h) for h in hs.split("x")) for hs in args.hidden.split(",")]:
        t0 = time.process_time()
        head = fit_family_head(X, y, grid, names=names, jitter_dex=args.jitter_dex, hidden=hidden,
                               half_width_nm=args.half_width_nm)
        P, dist = head.predict(Xp)
        pred = np.array(head.families)[P.argmax(axis=1)]
        top = P.max(axis=1)
        line = (f"hidden {hidden}, jitter {args.jitter_dex}: train.npz family {np.mean(pred == fam_p):.4f} "
                f"({time.process_time() - t0:.0f} s CPU)")
        for bar in (0.6, 0.8, 0.9, 0.95):
            acc_ = top >= bar
            line += f" | p >= {bar}: wrong {np.mean(acc_ & (pred != fam_p)):.3f} unknown {np.mean(~acc_):.3f}"
        print(line)
        for g in np.unique(peer.labels):
            r = peer.labels == g
            vals, cnt = np.unique(pred[r], return_counts=True)
            print(f"   {g}: " + ", ".join(f"{v} {c}" for v, c in zip(vals, cnt, strict=True)))


def agreement(grid, X, y, Xp, labels_p, half_width_nm: float) -> None:
    """Per window: Spearman rho over the grades between our simulator's and train.npz's median ratio."""
    from scipy.stats import spearmanr

    from sorter.training.family_head import FamilyFeatures

    f = FamilyFeatures(grid, half_width_nm=half_width_nm, lo_nm=240.0, hi_nm=860.0).fit(X)
    F, Fp = f.transform(X), f.transform(Xp)
    grades = np.unique(labels_p)
    A = np.array([np.median(F[y == g], axis=0) for g in grades])
    B = np.array([np.median(Fp[labels_p == g], axis=0) for g in grades])
    for j, name in enumerate(f.get_feature_names_out()):
        rho = spearmanr(A[:, j], B[:, j])[0]
        print(f"{name:28s} rho {rho:+.2f}  ours {A[:, j].min():+.1f}..{A[:, j].max():+.1f}  "
              f"train.npz {B[:, j].min():+.1f}..{B[:, j].max():+.1f}")


if __name__ == "__main__":
    main()
