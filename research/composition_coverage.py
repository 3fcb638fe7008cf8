# ruff: noqa: T201  (a research script reports on stdout)
"""What a grid that misses line windows, or another spectrometer, does to a bundled model's composition.

The runtime withholds the composition of a spectrum whose grid does not span every line window of
the model (``sorter.serving.runtime.GridCoverage``). This bench shows why: it simulates one seeded
held-out set on the model's own instrument, cuts the grid to narrower ranges, and scores the raw
graph outputs (what would be served without the check: grade and family scored as if accepted,
the composition estimate), the pieces the runtime sends round for the grid, and the windows each
range misses.

    python -m research.composition_coverage [--instrument broadband] [--n 20] [--set 1]
        [--range 200 900 --range 200 700 ...]
    python -m research.composition_coverage --unseen [--instrument broadband] [--n 20]

``--unseen``: the same on pieces from the unseen spectrometer of the family-accuracy target
(``scenarios.unseen_instrument``: another grid, range, resolution, response and continuum, every
window inside its range) against the model's own instrument, both with wavelength offsets of up to
0.05 nm; the runtime withholds the composition of the first (``LibsRuntime.calibration_note``).

Mean MAE/range, pairs above 0.10 of the 30 grade-major-element pairs and the worst pair, true
composition against the graph's estimate (classifier probabilities), on every piece.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

DEFAULT_RANGES = {"broadband": [(200, 900), (200, 700), (240, 900), (252, 900), (250, 560)],
                  "highres": [(240, 420), (240, 400), (250, 420), (255, 420), (260, 420)]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instrument", default="broadband", choices=sorted(DEFAULT_RANGES))
    ap.add_argument("--n", type=int, default=20, help="pieces per class")
    ap.add_argument("--set", type=int, default=1, help="index into scenarios.HELD_OUT (default: hot edge)")
    ap.add_argument("--seed", type=int, default=301)
    ap.add_argument("--range", type=float, nargs=2, action="append", metavar=("LOW_NM", "HIGH_NM"))
    ap.add_argument("--unseen", action="store_true", help="another spectrometer instead of cut grids")
    args = ap.parse_args()
    if args.unseen:
        unseen(args.instrument, args.n, args.seed)
        return

    from research.composition_accuracy import pair_summary
    from research.scenarios import HELD_OUT
    from sorter.instruments import get_instrument
    from sorter.serving.reject import Decision
    from sorter.serving.runtime import LibsRuntime
    from sorter.training.data import DEFAULT_GRADES, element_columns
    from sorter.training.evaluation import classification_metrics, composition_errors

    rt = LibsRuntime.load(ROOT / "models" / f"{args.instrument}.onnx")
    cond = HELD_OUT[args.set]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch = cond.simulate(DEFAULT_GRADES, args.n, get_instrument(args.instrument), args.seed)
    els = rt.card.elements
    true = element_columns(batch, els)
    print(f"{args.instrument} model, {cond.name}, {len(batch)} piece spectra (simulated in "
          f"{time.perf_counter() - t0:.0f} s); composition mean MAE/range / pairs above 0.10 / worst")
    for lo, hi in args.range or DEFAULT_RANGES[args.instrument]:
        keep = (batch.wavelength_nm >= lo) & (batch.wavelength_nm <= hi)
        x, coverage = rt.to_grid(batch.wavelength_nm[keep], batch.intensity[:, keep])
        out = rt.run(x)
        served = rt.interpret(out, coverage=coverage)
        unchecked = rt.interpret(out)
        decisions = [Decision(r.grade, r.family, max(r.probabilities.values()), r.decision, r.reason)
                     for r in unchecked]
        m = classification_metrics(batch.labels, decisions, rt.card.families, rt.classes)
        comp = composition_errors(batch.labels, true, out["composition_wt_pct"].astype(np.float64), els)
        sent_round = sum(r.reason == coverage.reason != "" for r in served)
        missing = ", ".join(coverage.missing_windows) or "none"
        print(f"  {lo:g}-{hi:g} nm: composition {pair_summary(comp)}; unchecked: grade {m['grade_accuracy']:.4f}, "
              f"family {m['family_accuracy']:.4f}, "
              f"unknown {m['unknown_rate_aluminium']:.3f}; sent round for the grid: {sent_round}/{len(served)}; "
              f"windows missed: {missing}", flush=True)


def unseen(instrument: str, n: int, seed: int) -> None:
    from research.composition_accuracy import pair_summary
    from research.scenarios import unseen_instrument
    from sorter.instruments import get_instrument
    from sorter.serving.runtime import LibsRuntime
    from sorter.shots import SHOTS_PER_PIECE, ShotPlan
    from sorter.simulate import simulate_batch
    from sorter.training.data import DEFAULT_GRADES, element_columns
    from sorter.training.evaluation import composition_errors

    rt = LibsRuntime.load(ROOT / "models" / f"{instrument}.onnx")
    els = rt.card.elements
    print(f"{instrument} model, {n} pieces per class, offsets up to 0.05 nm; composition (raw graph output) "
          f"mean MAE/range / pairs above 0.10 / worst")
    for inst in (get_instrument(instrument), unseen_instrument(instrument)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            batch = simulate_batch(list(DEFAULT_GRADES), n, inst, seed, wavelength_offset_nm=(-0.05, 0.05),
                                   shot_plan=ShotPlan(n_shots=SHOTS_PER_PIECE))
        true = element_columns(batch, els)
        x, coverage = rt.to_grid(batch.wavelength_nm, batch.intensity)
        out = rt.run(x)
        served = rt.interpret(out, coverage=coverage)
        comp = composition_errors(batch.labels, true, out["composition_wt_pct"].astype(np.float64), els)
        grade = np.mean([r.grade == g for r, g in zip(served, batch.labels, strict=True)])
        withheld = sum(r.composition_note != "" for r in served)
        print(f"  {inst.name} ({inst.wavelength_min_nm:g}-{inst.wavelength_max_nm:g} nm, {inst.n_pixels} px, "
              f"{inst.resolution_fwhm_nm:g} nm): composition {pair_summary(comp)}; grade {grade:.4f}; "
              f"composition withheld {withheld}/{len(served)}", flush=True)


if __name__ == "__main__":
    main()
