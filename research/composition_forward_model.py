# ruff: noqa: T201  (a research script reports on stdout)
"""Composition read by the forward model itself, on the model's window areas: a prototype against the bundled model.

A measurement, not a served estimator: it asks how far an estimator that knows the physics gets on
the same features the bundled model reads, where the learned estimator falls short (the cool
edge). For one grade:

1. A node table. At each node of a grid over T_e 7,500-14,500 K (500 K steps) and n_e
   10^15.9-10^18.1 cm^-3 (0.2 dex), the simulator's reference path
   (:func:`research.information_bound.piece_information`) gives the expected window areas
   ``y0`` of a 16-shot piece at the grade's mean composition, their derivatives ``D`` with respect
   to every free element and nuisance parameter, and their detector-noise covariance
   ``S = W^T diag(v) W`` (window weights W). Cubic splines of ``y0`` (and linear interpolation of
   ``D`` and ``S``) refine it to 125 K x 0.1 dex.
2. Per piece, at each node: the Gaussian marginal likelihood of its areas,
   ``N(y; y0, S + D Lambda D^T)``, and the posterior mean of the parameters,
   ``Lambda D^T (S + D Lambda D^T)^-1 (y - y0)`` (prior Lambda: the grade's spread, the nuisance
   priors of the bound, T_e and n_e within half a node). The estimate is the likelihood-weighted
   mean over nodes (Bayesian model averaging); the best node is its plasma-state estimate.

Printed per set: MAE / spec range per major element for this estimate and for the bundled model
on the same pieces (with its own grade call), and the RMS error of the state estimate. Building
the table takes about 16 minutes on two cores (``--table-npz`` keeps it for reruns).

    python -m research.composition_forward_model [--grade 7075] [--n 40] [--workers 2] [--table-npz F]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
T_NODES_K = np.arange(7500.0, 14501.0, 500.0)
LOG10_NE_NODES = np.arange(15.9, 18.11, 0.2)
FINE_T_STEP_K = 125.0
FINE_LOG10_NE_STEP = 0.1


def node_job(node, grade: str, instrument: str, windows):
    """Window areas, their Jacobian and noise covariance (noise scale 1) at one (T_e, log10 n_e) node."""
    from research.information_bound import PieceConditions, grade_prior, piece_information
    from sorter.instruments import get_instrument

    T, log10_ne = node
    inst = get_instrument(instrument)
    pixels, W = np.asarray(windows[0]), np.asarray(windows[1])
    mean, sd = grade_prior(grade)
    cond = PieceConditions(T, 10.0 ** log10_ne)
    info = piece_information(mean, sd, inst, cond)
    y0 = W.T @ (info.counts + inst.dark_counts)[pixels]
    return y0, W.T @ info.jacobian[pixels], W.T @ (W * info.variance[pixels][:, None])


def node_table(grade: str, instrument: str, windows, workers: int) -> dict[str, np.ndarray]:
    nodes = [(T, L) for T in T_NODES_K for L in LOG10_NE_NODES]
    with ProcessPoolExecutor(workers) as pool:
        out = list(pool.map(partial(node_job, grade=grade, instrument=instrument, windows=windows), nodes))
    return {"y0": np.array([o[0] for o in out]), "D": np.array([o[1] for o in out]),
            "S": np.array([o[2] for o in out])}


def refine(table: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The table on the fine grid: cubic splines of y0 over (T_e, ln n_e); D and S linear."""
    from scipy.interpolate import RectBivariateSpline, RegularGridInterpolator

    ln_ne = LOG10_NE_NODES * np.log(10.0)
    nT, nL = T_NODES_K.size, ln_ne.size
    y0 = table["y0"].reshape(nT, nL, -1)
    T_f = np.arange(T_NODES_K[0], T_NODES_K[-1] + 1.0, FINE_T_STEP_K)
    L_f = np.arange(ln_ne[0], ln_ne[-1] + 1e-9, FINE_LOG10_NE_STEP * np.log(10.0))
    y_f = np.stack([RectBivariateSpline(T_NODES_K, ln_ne, y0[:, :, a])(T_f, L_f) for a in range(y0.shape[2])], -1)
    P = np.stack(np.meshgrid(T_f, L_f, indexing="ij"), -1).reshape(-1, 2)
    D = RegularGridInterpolator((T_NODES_K, ln_ne), table["D"].reshape(nT, nL, *table["D"].shape[1:]))(P)
    S = RegularGridInterpolator((T_NODES_K, ln_ne), table["S"].reshape(nT, nL, *table["S"].shape[1:]))(P)
    return {"state": P, "y0": y_f.reshape(P.shape[0], -1), "D": D, "S": S}


def estimate(grade: str, fine: dict[str, np.ndarray], areas: np.ndarray, noise_scale: float):
    """(free elements, composition estimates (n, k) [wt%], best-node state (n, 2): T_e [K], ln n_e)."""
    from research.information_bound import MIN_PRIOR_SD_WT_PCT, NUISANCE_PRIOR_SD, grade_prior

    mean, sd = grade_prior(grade)
    free = [e for e in sd if sd[e] >= MIN_PRIOR_SD_WT_PCT]
    nuisance_sd = dict(NUISANCE_PRIOR_SD, T_e_K=FINE_T_STEP_K / 2,
                       log_n_e=FINE_LOG10_NE_STEP * np.log(10.0) / 2, offset_nm=0.05)
    Lam = np.diag(np.array([sd[e] for e in free] + list(nuisance_sd.values())) ** 2)
    log_like, est = [], []
    for y0, D, S1 in zip(fine["y0"], fine["D"], fine["S"], strict=True):
        C = S1 * noise_scale ** 2 + D @ Lam @ D.T
        chol = np.linalg.cholesky(C + 1e-9 * np.trace(C) / len(C) * np.eye(len(C)))
        z = np.linalg.solve(chol, (areas - y0).T)
        log_like.append(-0.5 * (z ** 2).sum(axis=0) - np.log(np.diag(chol)).sum())
        est.append((Lam @ D.T @ np.linalg.solve(chol.T, z)).T[:, :len(free)])
    log_like, est = np.array(log_like), np.array(est)
    w = np.exp(log_like - log_like.max(axis=0))
    w /= w.sum(axis=0)
    comp = np.einsum("ni,nik->ik", w, est) + np.array([mean[e] for e in free])
    return free, comp, fine["state"][log_like.argmax(axis=0)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grade", default="7075")
    ap.add_argument("--instrument", default="broadband")
    ap.add_argument("--n", type=int, default=40, help="pieces per set")
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--table-npz", type=Path, default=None, help="reuse (or save) the node table here")
    args = ap.parse_args()

    from research.composition_bound import model_windows
    from research.scenarios import HELD_OUT
    from sorter.instruments import get_instrument
    from sorter.serving.runtime import LibsRuntime
    from sorter.training.data import simulated_data
    from sorter.training.evaluation import spec_ranges

    windows = model_windows(args.instrument, args.seed)
    t0 = time.perf_counter()
    if args.table_npz is not None and args.table_npz.exists():
        table = dict(np.load(args.table_npz))
    else:
        table = node_table(args.grade, args.instrument, windows, args.workers)
        if args.table_npz is not None:
            np.savez(args.table_npz, **table)
    fine = refine(table)
    print(f"{args.grade} on {args.instrument}: node table {T_NODES_K.size} x {LOG10_NE_NODES.size} "
          f"({time.perf_counter() - t0:.0f} s), refined to {len(fine['state'])} states; {args.n} pieces per set; "
          f"MAE / spec range, forward model | bundled model; target <= 0.10")
    inst = get_instrument(args.instrument)
    pixels, W = np.asarray(windows[0]), np.asarray(windows[1])
    rt = LibsRuntime.load(ROOT / "models" / f"{args.instrument}.onnx")
    ranges = spec_ranges(args.grade)
    sets = [("training recipe", None)] + [(h.name, h) for h in HELD_OUT]
    for k, (name, held) in enumerate(sets):
        if held is None:
            d = simulated_data(args.instrument, args.n, args.seed + k, grades=[args.grade])
            X, elements, truth, noise, state = d.intensity, list(d.elements), d.composition, 1.0, None
        else:
            b = held.simulate([args.grade], args.n, inst, args.seed + k)
            X, elements, truth, noise = b.intensity, list(b.elements), b.composition_wt_pct, held.noise_scale
            state = np.stack([b.meta["T_e_K"], np.log(b.meta["n_e_per_cm3"])], axis=1)
        areas = X[:, pixels] @ W
        free, comp, best = estimate(args.grade, fine, areas, noise)
        served = rt.classify_array(inst.wavelength_nm, X)
        cells = []
        for e, (lo, hi) in ranges.items():
            y = truth[:, elements.index(e)]
            ours = np.mean(np.abs(comp[:, free.index(e)] - y)) / (hi - lo)
            theirs = np.mean(np.abs(np.array([r.composition_wt_pct[e] for r in served]) - y)) / (hi - lo)
            cells.append(f"{e} {ours:.3f} | {theirs:.3f}")
        line = f"  {name[:44]:44s} " + "   ".join(cells)
        if state is not None:
            rms = np.sqrt(np.mean((best - state) ** 2, axis=0))
            line += f"   state RMS error {rms[0]:.0f} K, {rms[1]:.2f} in ln n_e"
        print(line, flush=True)


if __name__ == "__main__":
    main()
