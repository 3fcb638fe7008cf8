"""Simulation rate of 4096-pixel LIBS spectra on one core: batch path vs the line-by-line reference.

    python -m bench.simulate_rate [--n 2000] [--baseline-n 20] [--instrument broadband]

Prints spectra per second of ``simulate_batch`` (broadband instrument, 4096 pixels, 8 grades, three
gate states per spectrum, noise on) after one warm-up batch that fills the per-instrument caches, the
rate of a straightforward per-spectrum, per-line loop (``simulate_spectrum``, the reference path)
measured in the same run, and their ratio; writes them to ``bench/results/simulate_rate.json``.
Rates are in CPU time with one BLAS thread (the script sets OMP/OPENBLAS/MKL_NUM_THREADS=1 before
numpy loads), so other jobs on the machine slow them less than wall time.
"""

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from bench.results import Figure, write  # noqa: E402
from sorter.grades import sample_composition  # noqa: E402
from sorter.simulate import simulate_batch, simulate_spectrum  # noqa: E402

GRADES = ["5182", "6063", "3104", "5052", "7075", "A380", "2024", "6082"]
TARGET_PER_S = 1000.0    # the rate for 4096-pixel spectra on one core
TARGET_INSTRUMENT = "broadband"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="spectra in the timed batch")
    parser.add_argument("--baseline-n", type=int, default=20, help="spectra for the line-by-line baseline")
    parser.add_argument("--instrument", default="broadband")
    args = parser.parse_args()
    per_grade = max(1, args.n // len(GRADES))

    simulate_batch(GRADES, per_grade, args.instrument, seed=99)  # warm-up: profile matrices, line grids
    wall, cpu = time.perf_counter(), time.process_time()
    batch = simulate_batch(GRADES, per_grade, args.instrument, seed=1)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    n = len(batch)

    rng = np.random.default_rng(2)
    comps = [sample_composition(GRADES[i % len(GRADES)], rng) for i in range(args.baseline_n)]
    b_wall, b_cpu = time.perf_counter(), time.process_time()
    for comp in comps:
        simulate_spectrum(comp, args.instrument, rng)
    b_wall, b_cpu = time.perf_counter() - b_wall, time.process_time() - b_cpu

    rate, b_rate = n / cpu, args.baseline_n / b_cpu
    pixels = batch.intensity.shape[1]
    print(f"instrument {args.instrument}: {pixels} pixels, {n} spectra")
    print(f"batch path:     {rate:8.0f} spectra/s (CPU time {cpu:.2f} s, wall {wall:.2f} s)")
    print(f"per-line loop:  {b_rate:8.1f} spectra/s (CPU time {b_cpu:.2f} s for {args.baseline_n}, "
          f"wall {b_wall:.2f} s)")
    print(f"ratio:          {rate / b_rate:8.0f}x")
    targeted = args.instrument == TARGET_INSTRUMENT
    if targeted:
        print(f"target >= {TARGET_PER_S:,.0f} spectra/s: {'met' if rate >= TARGET_PER_S else 'NOT met'}")
    figure = Figure(what=f"simulate_batch, {args.instrument} grid ({pixels} pixels), 8 grades, noise on, one core",
                    value=round(rate, 1), unit="spectra/s",
                    baseline=f"per-line reference loop (simulate_spectrum), {args.baseline_n} spectra",
                    baseline_value=round(b_rate, 2), ratio=rate / b_rate,
                    target=f">= {TARGET_PER_S:,.0f} spectra/s" if targeted else "",
                    met=rate >= TARGET_PER_S if targeted else None,
                    note=f"{n} spectra after a warm-up batch; CPU time {cpu:.2f} s (wall {wall:.2f} s)")
    write("simulate_rate", [figure], title="LIBS simulation rate")


if __name__ == "__main__":
    main()
