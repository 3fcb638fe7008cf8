"""Time from the HTTP answer to the OPC UA client's ResultReadyEvent, against the HTTP answer itself.

Starts ``aluloop serve --opcua-endpoint`` (one worker, 127.0.0.1, a fresh SQLite file), signs an
asyncua client in with a controller key and subscribes to the ResultReadyEvents of line BENCH,
then classifies ``--n`` pieces one after another over HTTP (binary form, 4096 points). For each
piece it records the HTTP round trip (the baseline: what a PLC waits for over HTTP) and the delay
from the moment the HTTP answer arrived to the moment the event for the same piece arrived. The
event can only come after the commit, and the bridge finds it by polling the database
(``--poll-s``, the ``opcua_poll_s`` setting) when it had nothing to publish, so the delay is about
half a poll interval plus one query and one OPC UA publish.

    python -m bench.opcua_latency [--n 1000] [--poll-s 0.005]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from asyncua import Client, ua
from rich.progress import Progress

from bench.results import Figure, write
from bench.serve_latency import free_port, launch, ms
from sorter.io import read_spectrum

ROOT = Path(__file__).resolve().parents[1]
LINE = "BENCH"


def start(folder: Path, poll_s: float) -> tuple[subprocess.Popen, str, str, str]:
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}"
    proc, url, keys = launch(folder, roles=("controller", "admin"), env_extra={"ALULOOP_OPCUA_POLL_S": str(poll_s)},
                             serve_args=("--opcua-endpoint", endpoint))
    try:   # the line's rules make it known to the bridge before the first piece
        httpx.put(f"{url}/v1/lines/{LINE}/rules", json={}, headers={"Authorization": f"Bearer {keys['admin']}"},
                  timeout=30).raise_for_status()
    except Exception:
        proc.kill()
        raise
    return proc, url, endpoint, keys["controller"]


async def line_events(endpoint: str, key: str) -> tuple[Client, asyncio.Queue]:
    """A signed-in client subscribed to line BENCH; the queue gets (arrival time, PartId) of each event."""
    deadline = time.monotonic() + 120
    while True:
        client = Client(endpoint, timeout=30)
        client.set_user("bench")
        client.set_password(key)
        try:
            await client.connect()
            idx = await client.get_namespace_index("urn:aluloop:sorting-lines")
            line = await client.nodes.objects.get_child(f"{idx}:{LINE}")
            break
        except (OSError, ua.UaError):
            await client.disconnect()
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)   # bounded wait for the companion to load its NodeSets
    await client.load_data_type_definitions()
    mv = await client.get_namespace_index("http://opcfoundation.org/UA/MachineVision")
    queue: asyncio.Queue = asyncio.Queue()

    class Handler:
        def event_notification(self, event) -> None:
            queue.put_nowait((time.perf_counter(), event.PartId.Id))

    subscription = await client.create_subscription(0, Handler())
    await subscription.subscribe_events(line, client.get_node(ua.NodeId(1024, mv)))
    return client, queue


async def measure(url: str, endpoint: str, key: str, raw: bytes, n: int, warmup: int) -> tuple[np.ndarray, ...]:
    client, queue = await line_events(endpoint, key)
    http_s, event_s = np.empty(n), np.empty(n)
    head = {"Authorization": f"Bearer {key}", "Content-Type": "application/octet-stream", "X-Line-Id": LINE}
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            with Progress() as progress:
                task = progress.add_task("pieces", total=n + warmup)
                for i in range(-warmup, n):
                    piece_id = f"p{i}"
                    t0 = time.perf_counter()
                    r = await http.post("/v1/pieces/classify/binary", content=raw,
                                        headers={**head, "X-Piece-Id": piece_id})
                    t1 = time.perf_counter()
                    assert r.status_code == 200, r.text
                    arrived, part = await asyncio.wait_for(queue.get(), 30)
                    assert part == piece_id, (part, piece_id)
                    if i >= 0:
                        http_s[i], event_s[i] = t1 - t0, arrived - t1
                    progress.advance(task)
    finally:
        await client.disconnect()
    return http_s, event_s


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="pieces timed")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--poll-s", type=float, default=0.005, help="the bridge's idle poll interval [s]")
    args = parser.parse_args(argv)

    spectrum = read_spectrum(next((ROOT / "sample_spectra").glob("5182_broadband_*.csv")))
    raw = spectrum.intensity.astype("<f4").tobytes()
    with tempfile.TemporaryDirectory(prefix="aluloop-bench-") as folder:
        proc, url, endpoint, key = start(Path(folder), args.poll_s)
        try:
            http_s, event_s = asyncio.run(measure(url, endpoint, key, raw, args.n, args.warmup))
        finally:
            proc.kill()
            proc.wait(30)

    p50_h, p99_h, p50_e, p99_e = ms(http_s, 50), ms(http_s, 99), ms(event_s, 50), ms(event_s, 99)
    note = f"{args.n} pieces, bridge poll {args.poll_s * 1000:g} ms; one worker, SQLite"
    figures = [
        Figure("HTTP answer to OPC UA ResultReadyEvent, p50", round(p50_e, 3), "ms", "HTTP classify round trip p50",
               round(p50_h, 3), round(p50_h / p50_e, 3), note=note),
        Figure("HTTP answer to OPC UA ResultReadyEvent, p99", round(p99_e, 3), "ms", "HTTP classify round trip p99",
               round(p99_h, 3), round(p99_h / p99_e, 3), note=note),
    ]
    for f in figures:
        print(f"{f.what}: {f.value} {f.unit} (ratio to {f.baseline} {f.baseline_value} ms: {f.ratio})")
    write("opcua_latency", figures, argv=argv, title="OPC UA result events behind the HTTP answer (aluloop serve)")


if __name__ == "__main__":
    main()
