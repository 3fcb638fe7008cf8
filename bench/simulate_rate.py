"""Simulation rate of 4096-pixel LIBS spectra on one core: batch path vs the line-by-line reference.

    python bench/simulate_rate.py [--n 2000] [--baseline-n 20]

Prints spectra per second of ``simulate_batch`` (broadband instrument, 4096 pixels, 8 grades, three
gate states per spectrum, noise on) after one warm-up batch that fills the per-instrument caches, the
rate of a straightforward per-spectrum, per-line loop (``simulate_spectrum``, the reference path)
measured in the same run, and their ratio. Run it with one BLAS thread for a one-core figure
(the script sets OMP/OPENBLAS/MKL_NUM_THREADS=1 before numpy loads).
"""

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from sorter.grades import sample_composition  # noqa: E402
from sorter.simulate import simulate_batch, simulate_spectrum  # noqa: E402

GRADES = ["5182", "6063", "3104", "5052", "7075", "A380", "2024", "6082"]


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
    print(f"instrument {args.instrument}: {batch.intensity.shape[1]} pixels, {n} spectra")
    print(f"batch path:     {rate:8.0f} spectra/s (CPU time {cpu:.2f} s, wall {wall:.2f} s)")
    print(f"per-line loop:  {b_rate:8.1f} spectra/s (CPU time {b_cpu:.2f} s for {args.baseline_n}, "
          f"wall {b_wall:.2f} s)")
    print(f"ratio:          {rate / b_rate:8.0f}x")


if __name__ == "__main__":
    main()
