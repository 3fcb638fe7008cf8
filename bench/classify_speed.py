"""Classifier speed: onnxruntime on one core against scikit-learn's own predict, same model, same run.

Prints batched throughput [spectra/s], single-spectrum latency (median and p99) [ms] and the
ratio to scikit-learn, for the bundled model and for a model of the same architecture trained
here (scikit-learn needs the fitted estimator, which the bundle does not ship).

    python bench/classify_speed.py [--instrument broadband] [--n-per-grade 40] [--members 3] [--no-plasma-terms]
                                   [--max-shift-nm 0.08]

The same-architecture model mirrors the bundled recipe (models/README.md): three MLPs in the grade
ensemble and the plasma-state estimate with its Saha-Boltzmann terms; ``--members`` and
``--no-plasma-terms`` price either, ``--max-shift-nm`` the wavelength-offset correction (off in the
bundled models).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


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
    tmp = ROOT / "bench" / "_speed_model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = train(data, tmp, seed=args.seed, max_iter=60, plasma_terms=args.plasma_terms,
                       n_members=args.members, max_shift_nm=args.max_shift_nm)
    model = result.model
    rt_same = LibsRuntime.load(tmp, threads=1)
    print(f"spectra: {args.instrument} grid, {X.shape[1]} pixels, {len(DEFAULT_GRADES)} grades; "
          f"one core (onnxruntime intra_op_num_threads=1, BLAS 1 thread)")

    rows = []
    with threadpool_limits(1):
        sk_batch = throughput(model.predict, X[:4000], 1000)
        sk_full = throughput(model.outputs, X[:4000], 1000)
        sk_lat = latencies(model.predict, X, 1000)
        candidates = [(f"same-architecture model ({args.members} MLPs" + (", plasma terms" if args.plasma_terms else "")
                       + (f", offset correction {args.max_shift_nm:g} nm)" if args.max_shift_nm else ")"), rt_same)]
        bundled = ROOT / "models" / f"{args.instrument}.onnx"
        if bundled.exists():
            candidates.append((f"bundled models/{bundled.name}", LibsRuntime.load(bundled, threads=1)))
        for label, rt in candidates:
            ort_batch = throughput(rt.run, X32, 4096)
            ort_lat = latencies(lambda x, rt=rt: rt.interpret(rt.run(x)), X32)
            rows.append((label, ort_batch, ort_lat))
    print(f"scikit-learn predict (features + scaler + MLP), batch 1000: {sk_batch:10.0f} spectra/s")
    print(f"scikit-learn all outputs (+ composition, OOD, quality):   {sk_full:10.0f} spectra/s")
    print(f"scikit-learn predict, single spectrum: median {1e3 * np.median(sk_lat):.3f} ms, "
          f"p99 {1e3 * np.quantile(sk_lat, 0.99):.3f} ms")
    for label, ort_batch, ort_lat in rows:
        print(f"onnxruntime {label}, batch 4096, all outputs: {ort_batch:10.0f} spectra/s "
              f"= {ort_batch / sk_batch:.1f}x scikit-learn predict, {ort_batch / sk_full:.1f}x all outputs "
              f"(target >= 20,000)")
        print(f"onnxruntime {label}, single spectrum incl. decision: median {1e3 * np.median(ort_lat):.3f} ms, "
              f"p99 {1e3 * np.quantile(ort_lat, 0.99):.3f} ms (target p99 <= 1 ms); "
              f"{np.quantile(sk_lat, 0.99) / np.quantile(ort_lat, 0.99):.1f}x faster than scikit-learn at p99")
    for p in (tmp, result.card_path):
        p.unlink(missing_ok=True)
    import shutil

    shutil.rmtree(result.report_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
