"""How long reading and writing one spectrum file takes, against NumPy's own text I/O in the same run.

Run: ``python bench/spectrum_io.py [n_points]`` (default 100000, the most a Spectrum may hold).
Prints, per format, the median of 5 runs for write and read, and the read time
as a multiple of ``numpy.loadtxt`` on the same CSV (the in-run baseline).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sorter.io import read_spectrum, write_spectrum
from sorter.spectrum import Metadata, Spectrum


def _median_seconds(func, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(n: int = 100_000) -> None:
    rng = np.random.default_rng(0)
    wl = np.linspace(200.0, 900.0, n)
    s = Spectrum(wl, np.round(rng.gamma(2.0, 300.0, n)), Metadata(instrument="broadband", shots=8))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base_csv = tmp / "base.csv"
        write_spectrum(base_csv, s)
        baseline_read = _median_seconds(lambda: np.loadtxt(base_csv, delimiter=",", comments="#", skiprows=3))
        baseline_write = _median_seconds(lambda: np.savetxt(tmp / "np.csv", np.c_[wl, s.intensity], delimiter=",",
                                                            fmt="%r"))
        print(f"spectrum I/O, {n} points, median of 5 runs")
        print(f"  baseline numpy.loadtxt read {baseline_read * 1e3:8.1f} ms   numpy.savetxt write "
              f"{baseline_write * 1e3:8.1f} ms")
        for label, name, options in (("csv", "s.csv", {}), ("jcamp affn", "s.jdx", {}),
                                     ("jcamp difdup", "d.jdx", {"compression": "difdup"})):
            path = tmp / name
            write = _median_seconds(lambda path=path, options=options: write_spectrum(path, s, **options))
            read = _median_seconds(lambda path=path: read_spectrum(path))
            size = path.stat().st_size / 1e6
            print(f"  {label:13s} write {write * 1e3:8.1f} ms  read {read * 1e3:8.1f} ms  "
                  f"({read / baseline_read:4.2f} x loadtxt)  file {size:6.2f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
