"""Classifier speed: onnxruntime on one core against scikit-learn's own predict, same model, same run.

Prints batched throughput [spectra/s], single-spectrum latency (median and p99) [ms] and the
ratio to scikit-learn, for the bundled model and for a model of the same architecture trained
here (scikit-learn needs the fitted estimator, which the bundle does not ship); writes them to
``bench/results/classify_speed.json``. The issue's targets apply to the bundled model.

    python -m bench.classify_speed [--instrument broadband] [--n-per-grade 40] [--members 3] [--no-plasma-terms]
                                   [--max-shift-nm 0.08]

The same-architecture model mirrors the bundled recipe (models/README.md): three MLPs in the grade
ensemble and the plasma-state estimate with its Saha-Boltzmann terms; ``--members`` and
``--no-plasma-terms`` price either, ``--max-shift-nm`` the wavelength-offset correction (off in the
bundled models).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from bench.results import Figure, write  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TARGET_PER_S = 20_000.0   # batched throughput on one core [spectra/s]
TARGET_P99_MS = 1.0       # one spectrum including the decision [ms]


def throughput(fn, X, batch: int, min_seconds: float = 2.0) -> float:
    """Spectra per second running ``fn`` on consecutive batches of ``X``."""
    fn(X[:batch])
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_seconds:
        for i in range(0, X.shape[0], batch):
            fn(X[i:i + batch])
            n += min(batch, X.shape[0] - i)
    return n / (time.perf_counter() - t0)


def latencies(fn, X, n: int = 3000) -> np.ndarray:
    """Seconds per call of ``fn`` on one spectrum, ``n`` calls."""
    for i in range(50):
        fn(X[i % len(X)][None])
    out = np.empty(n)
    for i in range(n):
        x = X[i % len(X)][None]
        t0 = time.perf_counter()
        fn(x)
        out[i] = time.perf_counter() - t0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instrument", default="broadband")
    ap.add_argument("--n-per-grade", type=int, default=40)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--members", type=int, default=3, help="MLPs in the same-architecture model's grade ensemble")
    ap.add_argument("--plasma-terms", action=argparse.BooleanOptionalAction, default=True,
                    help="the same-architecture model with the plasma-state estimate and Saha-Boltzmann terms")
    ap.add_argument("--max-shift-nm", type=float, default=0.0,
                    help="the same-architecture model with the wavelength-offset correction up to this many nm")
    args = ap.parse_args()

    from threadpoolctl import threadpool_limits

    from sorter.serving.runtime import LibsRuntime
    from sorter.training.data import DEFAULT_GRADES, simulated_data
    from sorter.training.train import train

    data = simulated_data(args.instrument, args.n_per_grade, args.seed)
    X = np.tile(data.intensity, (max(1, 20000 // len(data.intensity) + 1), 1))[:20000]
    X32 = X.astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = train(data, Path(tmp) / "speed_model.onnx", seed=args.seed, max_iter=60,
                       plasma_terms=args.plasma_terms, n_members=args.members, max_shift_nm=args.max_shift_nm)
        rt_same = LibsRuntime.load(result.model_path, threads=1)
    model = result.model
    print(f"spectra: {args.instrument} grid, {X.shape[1]} pixels, {len(DEFAULT_GRADES)} grades; "
          f"one core (onnxruntime intra_op_num_threads=1, BLAS 1 thread)")

    rows = []
    with threadpool_limits(1):
        sk_batch = throughput(model.predict, X[:4000], 1000)
        sk_full = throughput(model.outputs, X[:4000], 1000)
        sk_lat = latencies(model.predict, X, 1000)
        same = (f"same-architecture model ({args.members} MLPs" + (", plasma terms" if args.plasma_terms else "")
                + (f", offset correction {args.max_shift_nm:g} nm)" if args.max_shift_nm else ")"))
        candidates = [(same, rt_same, False)]
        bundled = ROOT / "models" / f"{args.instrument}.onnx"
        if bundled.exists():
            candidates.append((f"bundled models/{bundled.name}", LibsRuntime.load(bundled, threads=1), True))
        for label, rt, targeted in candidates:
            ort_batch = throughput(rt.run, X32, 4096)
            ort_lat = latencies(lambda x, rt=rt: rt.interpret(rt.run(x)), X32)
            rows.append((label, ort_batch, ort_lat, targeted))
    sk_p99 = float(np.quantile(sk_lat, 0.99))
    print(f"scikit-learn predict (features + scaler + MLP), batch 1000: {sk_batch:10.0f} spectra/s")
    print(f"scikit-learn all outputs (+ composition, OOD, quality):   {sk_full:10.0f} spectra/s")
    print(f"scikit-learn predict, single spectrum: median {1e3 * np.median(sk_lat):.3f} ms, "
          f"p99 {1e3 * sk_p99:.3f} ms")
    figures = []
    for label, ort_batch, ort_lat, targeted in rows:
        p99, median = float(np.quantile(ort_lat, 0.99)), float(np.median(ort_lat))
        print(f"onnxruntime {label}, batch 4096, all outputs: {ort_batch:10.0f} spectra/s "
              f"= {ort_batch / sk_batch:.1f}x scikit-learn predict, {ort_batch / sk_full:.1f}x all outputs "
              f"(target >= 20,000)")
        print(f"onnxruntime {label}, single spectrum incl. decision: median {1e3 * median:.3f} ms, "
              f"p99 {1e3 * p99:.3f} ms (target p99 <= 1 ms); "
              f"{sk_p99 / p99:.1f}x faster than scikit-learn at p99")
        figures.append(Figure(
            what=f"{label}, {args.instrument}, batched (4096), all outputs, one core", value=round(ort_batch),
            unit="spectra/s", baseline="scikit-learn, same-architecture model, all outputs, batch 1000",
            baseline_value=round(sk_full), ratio=ort_batch / sk_full,
            target=f">= {TARGET_PER_S:,.0f} spectra/s" if targeted else "",
            met=ort_batch >= TARGET_PER_S if targeted else None,
            note=f"scikit-learn grade-only predict {sk_batch:,.0f} spectra/s"))
        figures.append(Figure(
            what=f"{label}, {args.instrument}, one spectrum incl. decision, p99", value=round(1e3 * p99, 3),
            unit="ms", baseline="scikit-learn predict, same-architecture model, one spectrum, p99",
            baseline_value=round(1e3 * sk_p99, 3), ratio=sk_p99 / p99,
            target=f"<= {TARGET_P99_MS:g} ms" if targeted else "",
            met=1e3 * p99 <= TARGET_P99_MS if targeted else None,
            note=f"median {1e3 * median:.3f} ms over {len(ort_lat)} calls"))
    write("classify_speed", figures, title="LIBS classification speed")

if __name__ == "__main__":
    main()
