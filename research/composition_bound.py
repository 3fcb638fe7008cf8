# ruff: noqa: T201  (a research script reports on stdout)
"""Composition estimate against its physical limit: the Van Trees bound next to the bundled model.

For every catalogue grade and major element (a min and a max in the spec) and each test set (the
training recipe and the three held-out conditions of ``research.scenarios.HELD_OUT``),
prints the smallest MAE any estimator can reach from a 16-shot piece spectrum
(:mod:`research.information_bound`, detector noise only, so a lower bound), as a share of
the grade's spec range, next to the MAE the bundled ONNX model reaches on simulated pieces of
the same set. The issue's target is 0.10 of the range.

Reading it: where the bound is near 0.10 the instrument, not the estimator, is the limit; where
the model is many times the bound the estimator leaves information in the spectrum. The bound
knows the simulator's physics exactly; ``research/composition_oracle.py`` measures what an estimator
learned from spectra reaches with the test conditions' own pieces to learn from.

``--stages`` follows the information down the model's feature extraction: the bound from the whole
spectrum, from the pixels of the model's line windows alone, from the window areas with each
window's first and second moments about its line centre (what a read-out that follows each
line's position and width could use), and from the window areas alone (the baseline-corrected sums
every feature is a ratio of; exact, areas and moments being linear in the pixels).
The windows are those the bundled recipe fits (``LibsModel`` defaults, bands searched on a
simulated training sample). A window-area bound above 0.10 means no estimator reading these
features can meet the target there, however it is trained.

The bound of a set is the mean of the per-piece bound over ``--states`` plasma states at evenly
spaced quantiles of the set's T_e range (uniform or uniform-in-1/T as the set draws it), with n_e at
the same quantile of its log range (the sets tie T_e and n_e with correlation 0.8), at the grade's
mean composition.

    python -m research.composition_bound [--instrument broadband] [--states 3] [--n 60] [--grades 7075 A356.2]
                                      [--bounds-json bounds.json] [--stages]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.10


def test_sets():
    """(name, T range, T sampling, log-uniform n_e range, gate spread, noise scale, offset) of each set."""
    from research.scenarios import HELD_OUT
    from sorter.training.data import TRAIN_N_E_PER_CM3, TRAIN_T_E_K, TRAIN_T_SAMPLING

    # the training recipe mixes gate spreads 0.06-0.18 and noise x0.7-1.4: the middle of each
    yield "training recipe", TRAIN_T_E_K, TRAIN_T_SAMPLING, TRAIN_N_E_PER_CM3, 0.12, 1.0, None
    for c in HELD_OUT:
        yield c.name, c.T_e_K, "uniform", c.n_e_per_cm3, c.gate_spread, c.noise_scale, c


def states(T_range, sampling, ne_range, n):
    q = (np.arange(n) + 0.5) / n
    lo, hi = T_range
    T = lo + (hi - lo) * q if sampling == "uniform" else 1.0 / (1.0 / lo - (1.0 / lo - 1.0 / hi) * q)
    ne = np.exp(np.log(ne_range[0]) + (np.log(ne_range[1]) - np.log(ne_range[0])) * q)
    return list(zip(T.tolist(), ne.tolist(), strict=True))


STAGES = ("spectrum", "windows", "moments", "areas")


def second_moment_weights(wavelength_nm: np.ndarray, window) -> np.ndarray:
    """Weights of sum over the window of (lambda - centre)^2 (I - baseline) [counts nm^3], baseline as the area's."""
    from sorter.preprocess.features import _window_and_bands

    w_win, w_left, w_right, lam_left, lam_right = _window_and_bands(wavelength_nm, window)
    lever = w_win * (wavelength_nm - window.line.centre_nm) ** 2
    tau = (wavelength_nm - lam_left) / (lam_right - lam_left)
    return (lever - float(lever @ (1.0 - tau)) * w_left / w_left.sum()
            - float(lever @ tau) * w_right / w_right.sum())


def model_windows(instrument: str, seed: int) -> tuple[list[int], list[list[float]], list[list[float]]]:
    """Pixels, area weights and area + first + second moment weights of the bundled recipe's line windows."""
    from sorter.preprocess.features import moment_weights
    from sorter.training.data import simulated_data
    from sorter.training.model import LibsModel

    d = simulated_data(instrument, 40, seed)
    lines = LibsModel(d.wavelength_nm).line_features().fit(d.intensity)
    wl = d.wavelength_nm
    m1 = np.stack([moment_weights(wl, w) for w in lines.windows_], axis=1)[lines.pixels_]
    m2 = np.stack([second_moment_weights(wl, w) for w in lines.windows_], axis=1)[lines.pixels_]
    return lines.pixels_.tolist(), lines.weights_.tolist(), np.hstack([lines.weights_, m1, m2]).tolist()


def bound_job(args, windows=None):
    """Mean per-piece bound MAE [wt%] of each major element of one grade in one set, per stage.

    ``{"spectrum": {element: MAE}}``, and with ``windows`` (pixels, area weights, area and moment
    weights) also "windows" (their pixels alone), "moments" (areas and moments) and "areas".
    """
    instrument, grade, set_states, gate, noise = args
    from research.information_bound import PieceConditions, grade_prior, piece_information
    from sorter.instruments import get_instrument
    from sorter.training.evaluation import spec_ranges

    inst = get_instrument(instrument)
    mean, sd = grade_prior(grade)
    per_stage = {s: [] for s in (STAGES if windows is not None else STAGES[:1])}
    for T, ne in set_states:
        info = piece_information(mean, sd, inst, PieceConditions(T, ne, gate_spread=gate, noise_scale=noise))
        per_stage["spectrum"].append(info.bound().mae_wt_pct())
        if windows is not None:
            pixels, weights, with_moments = windows
            per_stage["windows"].append(info.bound_of(pixels).mae_wt_pct())
            per_stage["moments"].append(info.bound_of(pixels, np.asarray(with_moments)).mae_wt_pct())
            per_stage["areas"].append(info.bound_of(pixels, np.asarray(weights)).mae_wt_pct())
    return {s: {e: float(np.mean([m[e] for m in maes])) for e in spec_ranges(grade)} for s, maes in per_stage.items()}


def measured(instrument: str, n: int, seed: int) -> list[dict]:
    """Per grade and element MAE/range of the bundled model on each set."""
    from sorter.serving.runtime import LibsRuntime
    from sorter.training.data import DEFAULT_GRADES, element_columns, simulated_data
    from sorter.training.evaluation import composition_errors

    rt = LibsRuntime.load(ROOT / "models" / f"{instrument}.onnx")
    els = rt.card.elements
    out = []
    for k, (_, _, _, _, _, _, cond) in enumerate(test_sets()):
        if cond is None:
            d = simulated_data(instrument, n, seed)
            wl, X, labels = d.wavelength_nm, d.intensity, d.labels
            true = d.composition[:, [d.elements.index(e) for e in els]]
        else:
            b = cond.simulate(DEFAULT_GRADES, n, instrument, seed + k)
            wl, X, labels = b.wavelength_nm, b.intensity, b.labels
            true = np.nan_to_num(element_columns(b, els), nan=0.0)
        res = rt.classify_array(wl, X)
        pred = np.array([[r.composition_wt_pct[e] for e in els] for r in res], dtype=float)
        out.append(composition_errors(labels, true, pred, els)["per_grade"])
    return out


def main() -> None:
    from sorter.training.data import DEFAULT_GRADES
    from sorter.training.evaluation import spec_ranges

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instrument", default="broadband")
    ap.add_argument("--states", type=int, default=3, help="plasma states per set the bound is averaged over")
    ap.add_argument("--n", type=int, default=60, help="pieces per grade per set for the bundled model's MAE")
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--grades", nargs="+", default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--bounds-json", type=Path, default=None,
                    help="reuse the bounds saved here by an earlier run with the same options (or save them)")
    ap.add_argument("--stages", action="store_true",
                    help="also the bound from the model's line-window pixels and from its window areas")
    args = ap.parse_args()

    grades = [g for g in (args.grades or DEFAULT_GRADES) if spec_ranges(g)]
    sets = list(test_sets())
    t0 = time.perf_counter()
    jobs = [(args.instrument, g, states(T, samp, ne, args.states), gate, noise)
            for g in grades for (_, T, samp, ne, gate, noise, _) in sets]
    windows = model_windows(args.instrument, args.seed) if args.stages else None
    # saved bounds are reused only for the same jobs and, with --stages, the same windows (the feature lines change)
    stage_key = ("stages " + hashlib.sha256(json.dumps(windows).encode()).hexdigest()[:16] if args.stages
                 else "spectrum")
    key = [list(map(str, j)) for j in jobs] + [[stage_key]]
    if args.bounds_json is not None and args.bounds_json.exists():
        saved = json.loads(args.bounds_json.read_text())
        if saved["jobs"] != key:
            raise SystemExit(f"{args.bounds_json}: saved for other options or windows; delete it or drop "
                             "--bounds-json")
        bounds = saved["bounds"]
    else:
        with ProcessPoolExecutor(args.workers) as pool:
            bounds = list(pool.map(partial(bound_job, windows=windows), jobs))
        if args.bounds_json is not None:
            args.bounds_json.write_text(json.dumps({"jobs": key, "bounds": bounds}))
    t_bound = time.perf_counter() - t0
    meas = measured(args.instrument, args.n, args.seed)
    if args.stages:
        print_stages(args, grades, sets, bounds, meas, t_bound)
        return
    print(f"{args.instrument}: bound (mean over {args.states} plasma states per set, 16-shot pieces, detector "
          f"noise only) and bundled model ({args.n} pieces per grade per set), MAE as a share of the spec range; "
          f"target <= {TARGET:.2f}; bounds took {t_bound:.0f} s")
    for s, (name, *_rest) in enumerate(sets):
        print(f"  {s}: {name}")
    print(f"{'grade':8s}{'el':4s}" + "".join(f"{'set ' + str(s) + ' bound/model':>22s}" for s in range(len(sets))))
    ratios, over = [], {s: [] for s in range(len(sets))}
    for gi, g in enumerate(grades):
        for e, (lo, hi) in spec_ranges(g).items():
            cells = []
            for s in range(len(sets)):
                b = bounds[gi * len(sets) + s]["spectrum"][e] / (hi - lo)
                m = meas[s].get(g, {}).get(e, {}).get("share_of_range", float("nan"))
                cells.append(f"{b:>12.3f} / {m:.3f}")
                ratios.append(m / b)
                if b > TARGET:
                    over[s].append(f"{g} {e} {b:.3f}")
            print(f"{g:8s}{e:4s}" + "".join(f"{c:>22s}" for c in cells))
    r = np.array(ratios)
    print(f"model MAE / bound over all grade-element-set cells: median {np.median(r):.1f}x, "
          f"range {r.min():.1f}x-{r.max():.1f}x")
    for s in range(len(sets)):
        print(f"  set {s}: bound above {TARGET:.2f} (no estimator meets the target there): "
              f"{', '.join(over[s]) if over[s] else 'none'}")


def print_stages(args, grades, sets, bounds, meas, t_bound) -> None:
    """The bound at each stage of the feature extraction next to the model, per grade, element and set."""
    from sorter.training.evaluation import spec_ranges

    print(f"{args.instrument}: bound from the whole spectrum / the line windows' pixels / the window areas and "
          f"moments / the window areas, "
          f"and the bundled model ({args.n} pieces per grade per set); MAE as a share of the spec range, "
          f"mean over {args.states} plasma states per set, 16-shot pieces, detector noise only; target <= "
          f"{TARGET:.2f}; bounds took {t_bound:.0f} s")
    for s, (name, *_rest) in enumerate(sets):
        print(f"  {s}: {name}")
    heads = [f"set {s} spec/win/mom/area/model" for s in range(len(sets))]
    print(f"{'grade':8s}{'el':4s}" + "".join(f"{h:>35s}" for h in heads))
    steps = {"windows/spectrum": [], "moments/windows": [], "areas/moments": [], "areas/windows": [],
             "model/areas": []}
    over = {s: [] for s in range(len(sets))}
    for gi, g in enumerate(grades):
        for e, (lo, hi) in spec_ranges(g).items():
            cells = []
            for s in range(len(sets)):
                b = [bounds[gi * len(sets) + s][st][e] / (hi - lo) for st in STAGES]
                m = meas[s].get(g, {}).get(e, {}).get("share_of_range", float("nan"))
                cells.append(f"{b[0]:.3f}/{b[1]:.3f}/{b[2]:.3f}/{b[3]:.3f}/{m:.3f}")
                steps["windows/spectrum"].append(b[1] / b[0])
                steps["moments/windows"].append(b[2] / b[1])
                steps["areas/moments"].append(b[3] / b[2])
                steps["areas/windows"].append(b[3] / b[1])
                steps["model/areas"].append(m / b[3])
                if b[3] > TARGET:
                    over[s].append(f"{g} {e} {b[3]:.3f} (moments {b[2]:.3f}, spectrum {b[0]:.3f})")
            print(f"{g:8s}{e:4s}" + "".join(f"{c:>35s}" for c in cells))
    for name, r in steps.items():
        r = np.array(r)
        print(f"{name}: median {np.median(r):.2f}x, range {r.min():.2f}x-{r.max():.2f}x")
    for s in range(len(sets)):
        print(f"  set {s}: window-area bound above {TARGET:.2f} (no estimator on these features meets the target "
              f"there): {', '.join(over[s]) if over[s] else 'none'}")


if __name__ == "__main__":
    main()
