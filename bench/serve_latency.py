"""The sorting service against the in-process Sorter call, measured in the same run.

Starts ``aluloop serve`` (one worker, 127.0.0.1, a fresh SQLite file) and times, with one
keep-alive client, single-piece JSON classify (p50, p99), the binary form (p50, and its speed-up
over JSON), and the batch endpoints, JSON and binary (pieces/s); each beside ``Sorter.classify`` /
``classify_array`` in this process on the same 4096-point spectrum. ``--soak`` adds a run at a
fixed request rate (default 60 s at 500 requests/s, binary form) counting errors and late sends.

    python -m bench.serve_latency [--n 1000] [--batch 100] [--batches 20] [--soak] [--soak-s 60] [--rate 500]

Every request is answered only after its record is committed, so these figures include a SQLite
commit (WAL, synchronous=NORMAL) per request or per batch.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from bench.results import Figure, write
from sorter.io import read_spectrum
from sorter.serving import Sorter

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def aluloop() -> list[str]:
    script = Path(sys.executable).with_name("aluloop")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from aluloop.cli import main; main()"]


def start_server(folder: Path) -> tuple[subprocess.Popen, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALULOOP_")}
    env |= {"ALULOOP_DATABASE_URL": f"sqlite:///{folder / 'bench.db'}", "ALULOOP_MAX_BODY_BYTES": str(64 << 20),
            "ALULOOP_ONNX_THREADS": "1"}
    key = subprocess.run([*aluloop(), "keys", "create", "--role", "controller"], env=env, capture_output=True,
                         text=True, check=True, timeout=120).stdout.strip().splitlines()[-1]
    port = free_port()
    log = (folder / "serve.log").open("wb")
    proc = subprocess.Popen([*aluloop(), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                            env=env, stdout=log, stderr=log, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((folder / "serve.log").read_text()[-2000:])
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return proc, url, key
        except httpx.TransportError:
            pass
        time.sleep(0.1)   # bounded readiness poll
    proc.kill()
    raise TimeoutError("aluloop serve not ready in 120 s")


def timed(fn, n: int, warmup: int = 20) -> np.ndarray:
    """Seconds of each of ``n`` calls ``fn(i)`` after ``warmup`` calls."""
    for i in range(warmup):
        fn(-1 - i)
    out = np.empty(n)
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        out[i] = time.perf_counter() - t
    return out


def ms(x: np.ndarray, q: float) -> float:
    return float(np.percentile(x, q) * 1000.0)


def soak(url: str, key: str, body: bytes, seconds: float, rate: float, senders: int = 8) -> dict:
    """Send the binary form at ``rate`` requests/s for ``seconds`` from ``senders`` threads on a fixed schedule."""
    n_total = int(seconds * rate)
    errors, late, done = [0], [0], [0]
    lock = threading.Lock()
    start = time.perf_counter() + 0.5

    def sender(k: int) -> None:
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/octet-stream", "X-Line-Id": "SOAK"}
        with httpx.Client(base_url=url, timeout=10) as http:
            for i in range(k, n_total, senders):
                due = start + i / rate
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)   # the request schedule, not a synchronisation
                elif wait < -0.1:
                    with lock:
                        late[0] += 1
                try:
                    ok = http.post("/v1/pieces/classify/binary", content=body,
                                   headers={**headers, "X-Piece-Id": f"soak-{i}"}).status_code == 200
                except httpx.HTTPError:
                    ok = False
                with lock:
                    done[0] += 1
                    errors[0] += not ok

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return {"requests": done[0], "errors": errors[0], "late_over_100ms": late[0], "achieved_per_s": done[0] / elapsed}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="single-piece requests per form")
    parser.add_argument("--batch", type=int, default=100, help="pieces per batch request")
    parser.add_argument("--batches", type=int, default=20, help="batch requests")
    parser.add_argument("--soak", action="store_true", help="also run the fixed-rate soak")
    parser.add_argument("--soak-s", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=500.0, help="soak requests per second")
    args = parser.parse_args(argv)

    spectrum = read_spectrum(next((ROOT / "sample_spectra").glob("5182_broadband_*.csv")))
    wl, x = spectrum.wavelength_nm, spectrum.intensity
    sorter = Sorter(threads=1)
    in_process = timed(lambda i: sorter.classify(spectrum), args.n)
    batch_x = np.repeat(x[None, :], args.batch, axis=0)
    t = time.perf_counter()
    for _ in range(args.batches):
        sorter.classify_array(wl, batch_x, instrument="broadband")
    in_process_rate = args.batch * args.batches / (time.perf_counter() - t)

    with tempfile.TemporaryDirectory(prefix="aluloop-bench-") as folder:
        proc, url, key = start_server(Path(folder))
        try:
            auth = {"Authorization": f"Bearer {key}"}
            spec = {"wavelength_nm": wl.tolist(), "intensity": x.tolist(), "instrument": "broadband"}
            json_head = {**auth, "Content-Type": "application/json"}
            bin_head = {**auth, "Content-Type": "application/octet-stream", "X-Line-Id": "BENCH"}
            raw = x.astype("<f4").tobytes()
            with httpx.Client(base_url=url, timeout=30) as http:
                def post_json(i: int) -> None:
                    body = json.dumps({"piece_id": f"j{i}", "line_id": "BENCH", "spectrum": spec})
                    assert http.post("/v1/pieces/classify", content=body, headers=json_head).status_code == 200

                def post_bin(i: int) -> None:
                    r = http.post("/v1/pieces/classify/binary", content=raw,
                                  headers={**bin_head, "X-Piece-Id": f"b{i}"})
                    assert r.status_code == 200

                single_json = timed(post_json, args.n)
                single_bin = timed(post_bin, args.n)
                batch_bodies = [json.dumps({"pieces": [{"piece_id": f"B{k}-{i}", "line_id": "BENCH", "spectrum": spec}
                                                       for i in range(args.batch)]}) for k in range(args.batches)]
                t = time.perf_counter()
                for body in batch_bodies:
                    assert http.post("/v1/pieces/classify/batch", content=body, headers=json_head).status_code == 200
                batch_rate = args.batch * args.batches / (time.perf_counter() - t)
                rows = np.repeat(x[None, :], args.batch, axis=0).astype("<f4").tobytes()
                t = time.perf_counter()
                for k in range(args.batches):
                    ids = ",".join(f"R{k}-{i}" for i in range(args.batch))
                    r = http.post("/v1/pieces/classify/batch/binary", content=rows,
                                  headers={**bin_head, "X-Piece-Ids": ids})
                    assert r.status_code == 200
                binary_batch_rate = args.batch * args.batches / (time.perf_counter() - t)
            soaked = soak(url, key, raw, args.soak_s, args.rate) if args.soak else None
        finally:
            proc.kill()
            proc.wait(30)

    p50_ip, p99_ip = ms(in_process, 50), ms(in_process, 99)
    p50_j, p99_j, p50_b, p99_b = ms(single_json, 50), ms(single_json, 99), ms(single_bin, 50), ms(single_bin, 99)
    figures = [
        Figure("single-piece JSON classify p50, 4096 points, one worker", round(p50_j, 3), "ms",
               "in-process Sorter.classify p50", round(p50_ip, 3), round(p50_ip / p50_j, 3), "<= 2 ms", p50_j <= 2.0),
        Figure("single-piece JSON classify p99", round(p99_j, 3), "ms", "in-process Sorter.classify p99",
               round(p99_ip, 3), round(p99_ip / p99_j, 3), "<= 5 ms", p99_j <= 5.0),
        Figure("single-piece binary classify p50", round(p50_b, 3), "ms", "JSON classify p50", round(p50_j, 3),
               round(p50_j / p50_b, 3), ">= 2x faster than JSON", p50_j / p50_b >= 2.0,
               note=f"p99 {p99_b:.3f} ms; in-process p50 {p50_ip:.3f} ms"),
        Figure(f"batch classify, {args.batch} pieces a request (JSON)", round(batch_rate, 1), "pieces/s",
               "in-process Sorter.classify_array", round(in_process_rate, 1), round(batch_rate / in_process_rate, 4),
               ">= 5,000 pieces/s", batch_rate >= 5000),
        Figure(f"batch classify, {args.batch} pieces a request (binary)", round(binary_batch_rate, 1), "pieces/s",
               "in-process Sorter.classify_array", round(in_process_rate, 1),
               round(binary_batch_rate / in_process_rate, 4), ">= 5,000 pieces/s", binary_batch_rate >= 5000),
    ]
    if soaked:
        figures.append(Figure(f"soak: {args.soak_s:g} s at {args.rate:g} requests/s (binary)", soaked["errors"],
                              "errors", target="no error and the rate held",
                              met=soaked["errors"] == 0 and soaked["achieved_per_s"] >= 0.98 * args.rate,
                              note=f"{soaked['requests']} requests, {soaked['achieved_per_s']:.1f}/s achieved, "
                                   f"{soaked['late_over_100ms']} sent over 100 ms late"))
    for f in figures:
        ratio = f" (ratio to {f.baseline}: {f.ratio})" if f.ratio is not None else ""
        print(f"{f.what}: {f.value} {f.unit}{ratio}; target {f.target}: {'met' if f.met else 'NOT met'}"
              + (f"; {f.note}" if f.note else ""))
    write("serve_latency", figures, argv=argv, title="Sorting service latency and throughput (aluloop serve)")


if __name__ == "__main__":
    main()
