"""How long reading and writing one spectrum file takes, against NumPy's own text I/O in the same run.

    python -m bench.spectrum_io [n_points]

``n_points`` defaults to 100000, the most a Spectrum may hold. Prints, per format, the median of 5
runs for write and read, and each as a multiple of ``numpy.loadtxt`` / ``numpy.savetxt`` on the same
CSV (the in-run baseline); writes them to ``bench/results/spectrum_io.json``. No target: reading
checks every value and names its line on error, which NumPy does not.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.results import Figure, write
from sorter.io import read_spectrum, write_spectrum
from sorter.spectrum import Metadata, Spectrum

REPEATS = 5


def _median_seconds(func, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n_points", nargs="?", type=int, default=100_000, help="points in the spectrum")
    n = parser.parse_args().n_points
    rng = np.random.default_rng(0)
    wl = np.linspace(200.0, 900.0, n)
    s = Spectrum(wl, np.round(rng.gamma(2.0, 300.0, n)), Metadata(instrument="broadband", shots=8))
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base_csv = tmp / "base.csv"
        write_spectrum(base_csv, s)
        baseline_read = _median_seconds(lambda: np.loadtxt(base_csv, delimiter=",", comments="#", skiprows=3))
        baseline_write = _median_seconds(lambda: np.savetxt(tmp / "np.csv", np.c_[wl, s.intensity], delimiter=",",
                                                            fmt="%r"))
        print(f"spectrum I/O, {n} points, median of {REPEATS} runs")
        print(f"  baseline numpy.loadtxt read {baseline_read * 1e3:8.1f} ms   numpy.savetxt write "
              f"{baseline_write * 1e3:8.1f} ms")
        for label, name, options in (("csv", "s.csv", {}), ("jcamp affn", "s.jdx", {}),
                                     ("jcamp difdup", "d.jdx", {"compression": "difdup"})):
            path = tmp / name
            wrote = _median_seconds(lambda path=path, options=options: write_spectrum(path, s, **options))
            read = _median_seconds(lambda path=path: read_spectrum(path))
            size = path.stat().st_size / 1e6
            print(f"  {label:13s} write {wrote * 1e3:8.1f} ms  read {read * 1e3:8.1f} ms  "
                  f"({read / baseline_read:4.2f} x loadtxt)  file {size:6.2f} MB")
            figures.append(Figure(what=f"read {label}, {n:,} points", value=round(read * 1e3, 2), unit="ms",
                                  baseline="numpy.loadtxt on the same CSV",
                                  baseline_value=round(baseline_read * 1e3, 2),
                                  ratio=baseline_read / read, note=f"median of {REPEATS}; file {size:.2f} MB"))
            figures.append(Figure(what=f"write {label}, {n:,} points", value=round(wrote * 1e3, 2), unit="ms",
                                  baseline="numpy.savetxt of the same arrays",
                                  baseline_value=round(baseline_write * 1e3, 2), ratio=baseline_write / wrote,
                                  note=f"median of {REPEATS}"))
    write("spectrum_io", figures, title="Spectrum file I/O")


if __name__ == "__main__":
    main()
