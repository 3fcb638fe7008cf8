# ruff: noqa: T201  (a research script reports on stdout)
"""What a learned composition estimate can reach on each held-out set: an oracle trained on the set itself.

For every catalogue aluminium grade and major element (a min and a max in the spec) and each
held-out set of ``research.scenarios.HELD_OUT``, a ridge regression (``RidgeCV``) is fitted
on ``--n-train`` pieces of that grade drawn from **the set's own conditions** (its plasma states,
gate spread, ablation scatter, noise scale and wavelength offset; other seeds than the test
pieces) and scored on ``--n-test`` more: MAE as a share of the grade's spec range, the estimate
clipped into the range. ``--sets corner`` does the same inside the training envelope, in its cool,
thin corner (training's noise, offsets, gate spread and ablation scatter): whether a held-out set's
departures from training or the corner itself keep a pair above 0.10. Two inputs:

* ``areas``: the line-window features the served model reads (``LineWindowFeatures``, the
  default windows, background bands searched on a pooled sample of the set);
* ``pixels``: the raw pixels of the element's windows and of the Al reference windows, with their
  background bands, divided by the summed Al reference areas: what a read-out that learns each
  line's shape could use.

The served model never sees a held-out set's conditions in training and must cover the whole
plasma envelope with one model, so it does worse than this oracle. Where the oracle stays above
0.10 with ample data, no estimator learned from spectra meets the target on that set (the Van Trees
bound of ``research/composition_bound.py`` sits lower only because it knows the simulator's physics
exactly). ``--n-train 200`` asks what 200 labelled pieces per grade of the new instrument could
teach at best, which is the transfer target's budget: ``--instrument plant-b`` is the bench's
transfer instrument. ``--grades 7075 --n-train 6000 --hgb`` adds gradient boosting on the areas
(the nonlinear check).

    python -m research.composition_oracle [--instrument broadband|highres|plant-b] [--sets cool]
                                       [--n-train 1500] [--n-test 200] [--grades 7075] [--hgb] [--table]
"""

from __future__ import annotations

import argparse
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SET_KEYS = ("wider", "hot", "cool", "corner")   # HELD_OUT's order, then the training envelope's cool corner
TARGET_SHARE = 0.10
LINE_FIT_PIECES = 30                        # per grade, pooled, to place the windows' background bands


def condition(key: str):
    """A held-out set of ``HELD_OUT``, or ``corner``: the cool, thin corner of the training envelope itself."""
    from research.scenarios import HELD_OUT, HeldOut

    if key == "corner":
        # training's T_e, n_e, gate spread, ablation scatter, noise scale and offsets, its coolest part
        return HeldOut("training envelope's cool corner 8,000-9,500 K, 1e16-4e16 cm^-3, noise x1.0, +-0.02 nm",
                       (8000.0, 9500.0), (1e16, 4e16), 1.0, (-0.02, 0.02))
    return HELD_OUT[SET_KEYS.index(key)]


def instrument_named(name: str):
    from research.scenarios import transfer_instrument
    from sorter.instruments import get_instrument

    return transfer_instrument() if name == "plant-b" else get_instrument(name)


def pixel_inputs(lines, wavelength_nm: np.ndarray, X: np.ndarray, reference_area: np.ndarray,
                 element: str) -> np.ndarray:
    """Pixels of ``element``'s and the Al reference windows (bands included) over ``reference_area`` (n,)."""
    keep = np.zeros(wavelength_nm.size, dtype=bool)
    for w in lines.windows_:
        if w.line.element == element or w.line.role == "reference":
            (left, _), (_, right) = w.bands
            keep |= (wavelength_nm >= left) & (wavelength_nm <= right)
    return X[:, keep] / reference_area[:, None]


def share_of_range(estimate, truth: np.ndarray, lo: float, hi: float) -> float:
    """MAE of ``estimate`` clipped into the spec range ``lo``-``hi`` [wt%], as a share of that range."""
    return float(np.mean(np.abs(np.clip(estimate, lo, hi) - truth)) / (hi - lo))


def grade_job(job, instrument: str, lines, n_train: int, n_test: int, seed: int, hgb: bool) -> list[dict]:
    """Oracle MAE / range of every major element of one grade on one held-out set."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    from sorter.training.data import element_columns
    from sorter.training.evaluation import spec_ranges

    set_index, grade_index, grade = job
    cond, inst = condition(SET_KEYS[set_index]), instrument_named(instrument)
    base = seed + 10_000 * set_index + 100 * grade_index
    train, test = cond.simulate([grade], n_train, inst, base), cond.simulate([grade], n_test, inst, base + 1)
    ranges = spec_ranges(grade)
    elements = tuple(ranges)
    y, y_test = element_columns(train, elements), element_columns(test, elements)
    wl = train.wavelength_nm
    A = [lines.areas(b.intensity) for b in (train, test)]
    areas = lines.features_from_areas(A[0]), lines.features_from_areas(A[1])
    # the Al reference windows' summed area normalises every pixel, as it does the served features
    reference = [a[:, lines.references_].sum(axis=1) for a in A]
    out = []
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for j, e in enumerate(elements):
            lo, hi = ranges[e]
            truth = y_test[:, j]
            row = {"set": SET_KEYS[set_index], "grade": grade, "element": e,
                   "grade_mean": share_of_range(y[:, j].mean(), truth, lo, hi)}
            estimators = {"areas": areas,
                          "pixels": (pixel_inputs(lines, wl, train.intensity, reference[0], e),
                                     pixel_inputs(lines, wl, test.intensity, reference[1], e))}
            for name, (Z, Z_test) in estimators.items():
                fit = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 4, 15))).fit(Z, y[:, j])
                row[name] = share_of_range(fit.predict(Z_test), truth, lo, hi)
            if hgb:
                Z, Z_test = areas
                fit = HistGradientBoostingRegressor(max_iter=400, learning_rate=0.05, random_state=0).fit(Z, y[:, j])
                row["hgb_areas"] = share_of_range(fit.predict(Z_test), truth, lo, hi)
            out.append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instrument", default="broadband", help="broadband, highres or plant-b (the transfer instrument)")
    ap.add_argument("--sets", nargs="+", default=list(SET_KEYS[:3]), choices=SET_KEYS)
    ap.add_argument("--n-train", type=int, default=1500, help="training pieces per grade, set's own conditions")
    ap.add_argument("--n-test", type=int, default=200, help="test pieces per grade")
    ap.add_argument("--grades", nargs="+", default=None)
    ap.add_argument("--seed", type=int, default=777_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--hgb", action="store_true", help="also gradient boosting on the areas (slow)")
    ap.add_argument("--table", action="store_true", help="print every grade-element pair")
    args = ap.parse_args()

    from rich.progress import Progress

    from sorter.grades import is_aluminium
    from sorter.training.data import DEFAULT_GRADES
    from sorter.training.model import LibsModel

    grades = args.grades or [g for g in DEFAULT_GRADES if is_aluminium(g)]
    inst = instrument_named(args.instrument)
    print(f"{inst.name}: oracle trained on {args.n_train} pieces per grade of each set's own conditions, "
          f"{args.n_test} test pieces per grade, seed {args.seed}")
    t0 = time.time()
    for key in args.sets:
        s = SET_KEYS.index(key)
        cond = condition(key)
        sample = cond.simulate(grades, LINE_FIT_PIECES, inst, args.seed - 1 - s)
        lines = LibsModel(grid_nm=sample.wavelength_nm).line_features().fit(sample.intensity)
        jobs = [(s, DEFAULT_GRADES.index(g) if g in DEFAULT_GRADES else k, g) for k, g in enumerate(grades)]
        work = partial(grade_job, instrument=args.instrument, lines=lines, n_train=args.n_train,
                       n_test=args.n_test, seed=args.seed, hgb=args.hgb)
        rows = []
        with ProcessPoolExecutor(args.workers) as pool, Progress(transient=True) as bar:
            task = bar.add_task(cond.name, total=len(jobs))
            for out in pool.map(work, jobs):
                rows += out
                bar.advance(task)
        print(f"{cond.name} ({time.time() - t0:.0f} s)")
        names = ["areas", "pixels"] + (["hgb_areas"] if args.hgb else [])
        if args.table:
            for r in rows:
                print(f"    {r['grade']:7s} {r['element']:3s} " + " ".join(f"{n} {r[n]:.3f}" for n in names)
                      + f"  grade mean {r['grade_mean']:.3f}")
        for n in names + ["grade_mean"]:
            share = np.array([r[n] for r in rows])
            above = [f"{r['grade']} {r['element']} {r[n]:.3f}" for r in sorted(rows, key=lambda r: -r[n])
                     if r[n] > TARGET_SHARE]
            print(f"  {n:10s} mean MAE/range {share.mean():.3f}, pairs above {TARGET_SHARE:.2f}: "
                  f"{len(above)} of {len(rows)}" + (f" ({', '.join(above)})" if above and n != "grade_mean" else ""))


if __name__ == "__main__":
    main()
