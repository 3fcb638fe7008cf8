"""How long the entry points take to import, in a fresh interpreter each time.

    python -m bench.import_time [--repeats 7]

A sorting-line worker or a CLI call pays the import before its first answer. Each module is
imported in a new ``python -X importtime`` process; the figure is the median over the repeats
of the cumulative time Python reports for that import. Baseline in the same run: ``import numpy``,
the floor every path pays.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

from bench.results import Figure, write

# module, target [s] (None: no target), why it matters
MODULES = (
    ("sorter.serving.sorter", 0.3, "a sorting line's serving path: the Sorter with onnxruntime"),
    ("sorter.io", 0.3, "reading spectra"),
    ("blending", None, "the package (lazy: loads nothing until used)"),
    ("blending.catalogue.spec", None, "the alloy catalogue sorter reads"),
    ("blending.plan", None, "the charge entry points with the solver stack"),
)


def import_seconds(module: str) -> float:
    """Cumulative import time of ``module`` [s] in a fresh interpreter."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                            capture_output=True, text=True, check=True)
    for line in reversed(result.stderr.splitlines()):
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1]) / 1e6
    raise RuntimeError(f"no importtime line for {module}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    numpy_s = statistics.median(import_seconds("numpy") for _ in range(args.repeats))
    print(f"baseline: import numpy {numpy_s * 1e3:.0f} ms (median of {args.repeats})")
    figures = []
    for module, target, why in MODULES:
        try:
            seconds = statistics.median(import_seconds(module) for _ in range(args.repeats))
        except subprocess.CalledProcessError:
            print(f"{module}: cannot be imported here, skipped")
            continue
        met = None if target is None else seconds <= target
        print(f"import {module}: {seconds * 1e3:.0f} ms ({seconds / numpy_s:.1f}x numpy)"
              + ("" if target is None else f"; target <= {target * 1e3:.0f} ms: {'met' if met else 'NOT met'}"))
        figures.append(Figure(what=f"import {module}: {why}", value=round(seconds * 1e3, 1), unit="ms",
                              baseline="import numpy", baseline_value=round(numpy_s * 1e3, 1),
                              ratio=numpy_s / seconds, target="" if target is None else f"<= {target * 1e3:.0f} ms",
                              met=met))
    write("import_time", figures, title="Import time of the entry points")


if __name__ == "__main__":
    main()
