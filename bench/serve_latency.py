"""The sorting service against the in-process Sorter call, measured in the same run.

Starts ``aluloop serve`` (one worker, 127.0.0.1, a fresh SQLite file) and times, with one
keep-alive client (the standard library's ``http.client``: a lighter client than httpx, so that
less of the figure is the client's own Python), single-piece JSON classify (p50, p99), the binary
form (p50, and its speed-up over JSON), and the batch endpoints, JSON and binary (pieces/s); each
beside ``Sorter.classify`` / ``classify_array`` in this process on the same 4096-point spectrum.
Beside each latency it gives the server's CPU time per request (from ``/proc``), which a busy
machine inflates far less than wall-clock time. ``--soak`` adds an open-loop run at a fixed request
rate (default 60 s at 500 requests/s, binary form, 32 connections): the rate sent and answered, the
errors, how late each send was against its schedule, the answers' latency and the server's CPU.

Then where the server's CPU per request goes (``cpu: ...`` figures): the app called as ASGI in this
process (no HTTP, no socket), its parts alone, and the remainder of the server's CPU (uvicorn,
HTTP parsing, the socket), with the single-piece forms also through their FastAPI routes (the
direct answers of ``api.direct`` off) and with the job in a worker thread. Then the stages of a
request, in this process: each optimisation's
before (the way the service did it until now: FastAPI's json + pydantic parse, a key read from the database, the INSERT
compiled per request, an ORM rules read, the standard json response, a worker-thread hop per
dependency) against after, in the same run, as a ratio.

    python -m bench.serve_latency [--n 1000] [--batch 100] [--batches 20] [--soak] [--soak-s 60] [--rate 500]
                                  [--no-stages]

Every request is answered only after its record is committed, so these figures include a SQLite
commit (WAL, synchronous=NORMAL) per request or per batch.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import itertools
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


def launch(folder: Path, roles: tuple[str, ...] = ("controller",), env_extra: dict[str, str] | None = None,
           serve_args: tuple[str, ...] = ()) -> tuple[subprocess.Popen, str, dict[str, str]]:
    """``aluloop serve`` (one worker, SQLite in ``folder``) once ready: (process, URL, role -> a new key)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALULOOP_")}
    env |= {"ALULOOP_DATABASE_URL": f"sqlite:///{folder / 'bench.db'}", "ALULOOP_ONNX_THREADS": "1",
            **(env_extra or {})}
    keys = {role: subprocess.run([*aluloop(), "keys", "create", "--role", role], env=env, capture_output=True,
                                 text=True, check=True, timeout=120).stdout.strip().splitlines()[-1]
            for role in roles}
    port = free_port()
    log = (folder / "serve.log").open("wb")
    proc = subprocess.Popen([*aluloop(), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                             *serve_args], env=env, stdout=log, stderr=log, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((folder / "serve.log").read_text()[-2000:])
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return proc, url, keys
        except httpx.TransportError:
            pass
        time.sleep(0.1)   # bounded readiness poll
    proc.kill()
    raise TimeoutError("aluloop serve not ready in 120 s")


def start_server(folder: Path) -> tuple[subprocess.Popen, str, str]:
    proc, url, keys = launch(folder, env_extra={"ALULOOP_MAX_BODY_BYTES": str(64 << 20)})
    return proc, url, keys["controller"]


class Client:
    """One keep-alive HTTP/1.1 connection (``http.client``): POST a body, get the status and the body."""

    def __init__(self, url: str, timeout: float = 30.0):
        host, port = url.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=timeout)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """POST once more on a new connection when the server had closed an idle one (uvicorn: after 5 s)."""
        for attempt in (1, 2):
            try:
                self.connection.request("POST", path, body=body, headers=headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                self.connection.close()   # reconnects on the next request
                if attempt == 2:
                    raise
            except (OSError, http.client.HTTPException):
                self.connection.close()
                raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()


def cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def soak(url: str, key: str, body: bytes, seconds: float, rate: float, connections: int = 32) -> dict:
    """Send the binary form open-loop at ``rate`` requests/s for ``seconds``.

    Request ``i`` is due at ``t0 + i / rate`` whatever happened before it: each of ``connections``
    keep-alive connections (a thread each) takes the next request number, waits for its time and
    sends it, so a slow answer holds up only its own connection and the schedule never drifts. (The
    generator before this one gave each of 8 threads every 8th request: a thread behind schedule
    stayed behind, and its late sends were counted as the server's rate.) Returns what was sent and
    when against the schedule, what was answered, the errors and the answers' latency.
    """
    n_total = int(seconds * rate)
    sent_at = np.full(n_total, np.nan)
    answered_at = np.full(n_total, np.nan)
    ok = np.zeros(n_total, dtype=bool)
    numbers = itertools.count()   # next() on a count is atomic under the GIL: each number is taken once
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/octet-stream", "X-Line-Id": "SOAK"}
    clients = [Client(url, timeout=10) for _ in range(connections)]
    for client in clients:   # connect before the schedule starts
        client.connection.connect()
    t0 = time.perf_counter() + 0.5

    def sender(client: Client) -> None:
        while (i := next(numbers)) < n_total:
            wait = t0 + i / rate - time.perf_counter()
            if wait > 0:
                time.sleep(wait)   # the request schedule, not a synchronisation
            sent_at[i] = time.perf_counter()
            try:
                status, _ = client.post("/v1/pieces/classify/binary", body, {**headers, "X-Piece-Id": f"soak-{i}"})
                ok[i] = status == 200
            except (OSError, http.client.HTTPException):
                ok[i] = False
            answered_at[i] = time.perf_counter()

    threads = [threading.Thread(target=sender, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for client in clients:
        client.close()
    due = t0 + np.arange(n_total) / rate
    late_ms = (sent_at - due) * 1000.0
    latency_ms = (answered_at - sent_at) * 1000.0
    # rates over the schedule's own span: n - 1 intervals between the first and the last send (answer)
    send_span, answer_span = np.nanmax(sent_at) - t0, np.nanmax(answered_at[ok]) - t0 if ok.any() else np.nan
    return {"requests": n_total, "errors": int(n_total - ok.sum()), "connections": connections,
            "sent_per_s": (n_total - 1) / send_span, "answered_per_s": (int(ok.sum()) - 1) / answer_span,
            "late_p50_ms": float(np.percentile(late_ms, 50)), "late_p99_ms": float(np.percentile(late_ms, 99)),
            "late_max_ms": float(np.max(late_ms)), "late_over_10ms": int((late_ms > 10.0).sum()),
            "latency_p50_ms": float(np.percentile(latency_ms, 50)),
            "latency_p99_ms": float(np.percentile(latency_ms, 99)), "latency_max_ms": float(np.max(latency_ms))}


def stages(spectrum, n: int) -> list[Figure]:
    """Each optimised stage of a request, before against after, in this process and this run."""
    from datetime import UTC, datetime

    import orjson
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import JSONResponse
    from sqlalchemy import select

    from api.db.engine import make_engine, session_factory, upgrade
    from api.db.keys import authenticate, create_key, key_hash
    from api.db.tables import LineRules, PieceRecord
    from api.deps import KEYS
    from api.metrics import REQUEST_SECONDS, child
    from api.schemas import PieceIn, fast_piece
    from api.services.pieces import _RULES_OF_LINE, _driver, _insert_statement, _sqlite_plan, parsed_rules, rules_for
    from api.services.rules import SortRules
    from sorter.preprocess.grid import same_grid

    spec = {"wavelength_nm": spectrum.wavelength_nm.tolist(), "intensity": spectrum.intensity.tolist(),
            "instrument": "broadband"}
    body = json.dumps({"piece_id": "p", "line_id": "BENCH", "spectrum": spec}).encode()
    figures = []

    def pair(what: str, before, after, note: str = "") -> None:
        b, a = ms(timed(before, n), 50), ms(timed(after, n), 50)
        figures.append(Figure(f"stage: {what}", round(a, 4), "ms p50", "the same stage before", round(b, 4),
                              round(b / a, 2), note=note))
        print(f"stage: {what}: {a:.4f} ms (before {b:.4f} ms, ratio {b / a:.2f})")

    pair("parse and check a 4096-point JSON piece (FastAPI json + pydantic -> orjson + numpy)",
         lambda i: PieceIn.model_validate(json.loads(body)), lambda i: fast_piece(orjson.loads(body), PieceIn))
    with tempfile.TemporaryDirectory(prefix="aluloop-stages-") as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'stages.db'}")
        upgrade(engine)
        sessions = session_factory(engine)
        with sessions() as session:
            _, key = create_key(session, "controller")
            session.add(LineRules(line_id="BENCH", rules=SortRules(default_bin="mixed").model_dump_json(),
                                  updated_at=datetime.now(UTC)))
            session.commit()

        def key_from_db(i: int) -> None:
            with sessions() as session:
                authenticate(session, key)

        KEYS.put(key_hash(key), authenticate(sessions(), key))
        pair("key check (database read per request -> cache, at most 1 s old)", key_from_db,
             lambda i: KEYS.get(key_hash(key)))

        def rules_orm(i: int) -> None:
            with sessions() as session:
                rows = session.scalars(select(LineRules).where(LineRules.line_id.in_({"BENCH"})))
                {r.line_id: SortRules.model_validate_json(r.rules) for r in rows}
                session.rollback()

        def rules_core(i: int) -> None:
            with sessions() as session:
                rules_for(session, {"BENCH"})
                session.rollback()

        parsed_rules(SortRules(default_bin="mixed").model_dump_json())
        pair("sort rules read (ORM + parse -> Core + parse once per distinct text)", rules_orm, rules_core)

        table = PieceRecord.__table__

        def row(tag: str, i: int) -> dict:
            return {"line_id": "BENCH", "piece_id": f"{tag}{i}", "state": "ok", "grade": "5182", "family": "5xxx",
                    "decision": "accept", "bin": "mixed", "model_name": "m", "captured_at": None,
                    "received_at": datetime.now(UTC), "encoder_count": None, "belt_speed_m_s": None,
                    "mass_kg": None, "key_id": 1, "result": "{}"}

        def insert_compiled(i: int) -> None:
            from sqlalchemy.dialects.sqlite import insert
            with sessions() as session:
                statement = (insert(table).values([row("c", i)]).on_conflict_do_nothing(
                    index_elements=["line_id", "piece_id"]).returning(table.c.id, table.c.line_id, table.c.piece_id))
                list(session.execute(statement))
                session.commit()

        def insert_cached(i: int) -> None:
            with sessions() as session:
                list(session.connection().execute(_insert_statement("sqlite"), [row("k", i)]))
                session.commit()

        pair("record insert + commit (INSERT compiled per request -> one cached statement)", insert_compiled,
             insert_cached)

        def record_core(i: int) -> None:   # the two statements of a one-piece record as SQLAlchemy runs them
            with sessions() as session:
                connection = session.connection()
                list(connection.execute(_RULES_OF_LINE, {"line_id": "BENCH"}))
                list(connection.execute(_insert_statement("sqlite"), [row("q", i)]))
                session.commit()

        def record_driver(i: int) -> None:   # as classify_pieces runs them for one piece on SQLite
            with sessions() as session:
                connection = session.connection()
                rules_for(session, {"BENCH"})
                plan = _sqlite_plan(connection.dialect)
                _driver(connection).execute(plan.insert_sql, plan.insert_params(row("d", i))).fetchall()
                session.commit()

        pair("one-piece rules read + insert + commit (SQLAlchemy executes the cached statements -> SQLite's "
             "cursor runs SQLAlchemy's compiled SQL)", record_core, record_driver)
        engine.dispose()

    sorter = Sorter(threads=1)
    name = sorter.model_for(spectrum.wavelength_nm, "broadband")
    runtime = sorter.runtime(name)
    pair("model runtime by name (file path resolved per call -> kept per name)",
         lambda i: sorter._runtimes[str(sorter._model_path(name).resolve())], lambda i: sorter.runtime(name))
    grid = np.array(runtime.grid_nm)   # another array with the model grid's values, as a request brings
    pair("spectrum on the model grid? (np.allclose -> one abs difference, allclose only when it fails)",
         lambda i: same_grid(grid, runtime.grid_nm), lambda i: runtime._on_model_grid(grid))
    pair("metrics child (labels() per request -> kept per label values)",
         lambda i: REQUEST_SECONDS.labels("POST", "/v1/pieces/classify", "200"),
         lambda i: child(REQUEST_SECONDS, "POST", "/v1/pieces/classify", "200"))
    result = {**sorter.classify(spectrum).to_json(), "record_id": "1", "replayed": False}
    pair("response body (JSONResponse -> orjson)", lambda i: JSONResponse(result).body, lambda i: orjson.dumps(result))

    async def hop_p50_ms(k: int) -> float:
        """p50 of ``k`` hand-offs to a worker thread, timed inside one task: as under uvicorn, whose
        worker threads outlive a request (anyio ends them with the task that started them, so a
        loop.run_until_complete per call would also time starting a thread)."""
        for _ in range(20):
            await run_in_threadpool(int)
        out = np.empty(n)
        for i in range(n):
            t = time.perf_counter()
            for _ in range(k):
                await run_in_threadpool(int)
            out[i] = time.perf_counter() - t
        return ms(out, 50)

    loop = asyncio.new_event_loop()
    try:
        b, a = loop.run_until_complete(hop_p50_ms(5)), loop.run_until_complete(hop_p50_ms(1))
    finally:
        loop.close()
    what = "worker-thread hops per JSON request (5: four plain-def dependencies and the route -> 1)"
    figures.append(Figure(f"stage: {what}", round(a, 4), "ms p50", "the same stage before", round(b, 4),
                          round(b / a, 2), note="a hop is a wake-up of another thread: cheap on a quiet machine, "
                          "milliseconds on a loaded one"))
    print(f"stage: {what}: {a:.4f} ms (before {b:.4f} ms, ratio {b / a:.2f})")
    return figures


def breakdown(spectrum, n: int) -> dict[str, float]:
    """CPU per request of each layer of a single-piece request, in this process (all its threads).

    The app is called as ASGI (no HTTP, no socket) and its parts are timed alone, some with the
    layer below replaced by its stored answer; the remainder of the server's CPU per request is
    uvicorn, HTTP parsing and the socket. Returns ms per request by stage.
    """
    import logging
    from unittest import mock

    import orjson

    import api.routes.pieces as routes
    import api.services.pieces as services
    from api.db.engine import upgrade
    from api.db.keys import create_key
    from api.direct import DirectRoutes
    from api.main import _load_models, create_app
    from api.middleware import ServiceMiddleware
    from api.schemas import PieceIn, fast_piece
    from api.services.pieces import Piece, classify_pieces
    from api.settings import load_settings

    def cpu_ms(fn, k: int = n, warmup: int = 20) -> float:
        for i in range(warmup):
            fn(-1 - i)
        t = time.process_time()
        for i in range(k):
            fn(i)
        return (time.process_time() - t) / k * 1000.0

    out: dict[str, float] = {}
    wl, x = spectrum.wavelength_nm, spectrum.intensity
    x32 = x.astype("<f4")
    sorter = Sorter(threads=1)
    name = sorter.model_for(wl, "broadband")
    runtime = sorter.runtime(name)
    on_grid, _ = runtime.to_grid(wl, x32.astype(np.float64)[None, :])
    raw_out = runtime.run(on_grid)
    out["classify: Sorter.classify_array, one row"] = cpu_ms(
        lambda i: sorter.classify_array(wl, x32[None, :], instrument="broadband"))
    out["classify: of which onnxruntime session.run"] = cpu_ms(lambda i: runtime.run(on_grid))
    out["classify: of which interpret (decisions, dicts)"] = cpu_ms(
        lambda i: runtime.interpret(raw_out, instrument="broadband"))

    with tempfile.TemporaryDirectory(prefix="aluloop-breakdown-") as folder:
        app = create_app(load_settings(database_url=f"sqlite:///{Path(folder) / 'b.db'}", onnx_threads=1))
        upgrade(app.state.engine)
        _load_models(app.state.sorter)
        app.state.models_loaded = True
        sessions = app.state.sessions
        with sessions() as session:
            _, key = create_key(session, "controller")
            session.commit()

        def piece(tag: str, i: int) -> Piece:
            return Piece(piece_id=f"{tag}{i}", line_id="BENCH", wavelength_nm=wl, intensity=x32.astype(np.float64),
                         instrument="broadband")

        def job(tag):
            def run(i):
                with sessions() as session:
                    classify_pieces(session, app.state.sorter, [piece(tag, i)], 1)
            return run

        out["worker job: classify_pieces (rules, classify, insert, lots, commit)"] = cpu_ms(job("w"))
        found = services._classify(app.state.sorter, [piece("x", 0)])
        with mock.patch.object(services, "_classify", lambda sorter, todo: found):
            out["worker job less the classification (session, rules, result, insert, lots, commit)"] = cpu_ms(job("d"))

        mocked = job("m")
        with mock.patch.object(services, "_classify", lambda sorter, todo: found):
            out["classify_array and the job less the classification, alternating (caches shared)"] = cpu_ms(
                lambda i: (app.state.sorter.classify_array(wl, x32[None, :], instrument="broadband"), mocked(i)))

        def empty_transaction(i: int) -> None:
            with sessions() as session:
                session.connection()
                session.commit()

        out["database: session + connection checkout + empty commit + close"] = cpu_ms(empty_transaction)

        auth = {"authorization": f"Bearer {key}"}
        spec = {"wavelength_nm": wl.tolist(), "intensity": x.tolist(), "instrument": "broadband"}
        bodies = {}
        loop = asyncio.new_event_loop()

        async def call(path: str, headers: dict[str, str], body: bytes) -> int:
            scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                     "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
                     "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
                     "headers": [(k.encode(), v.encode()) for k, v in headers.items()]
                     + [(b"content-length", str(len(body)).encode())]}
            messages = [{"type": "http.request", "body": body, "more_body": False}]
            status = []

            async def receive():
                if messages:
                    return messages.pop()
                await asyncio.Future()   # no disconnect: the request never ends early

            async def send(message):
                if message["type"] == "http.response.start":
                    status.append(message["status"])

            await app(scope, receive, send)
            return status[0]

        def asgi_ms(request, warmup: int = 20) -> float:
            """CPU per call of ``await request(i)``, all in one task (as under uvicorn, whose
            worker threads outlive a request; a task per request would start a thread each time)."""
            async def calls() -> float:
                for i in range(warmup):
                    await request(-1 - i)
                t = time.process_time()
                for i in range(n):
                    await request(i)
                return (time.process_time() - t) / n * 1000.0
            return loop.run_until_complete(calls())

        def post_json(tag):
            async def run(i):
                body = bodies.get((tag, i)) or orjson.dumps({"piece_id": f"{tag}{i}", "line_id": "BENCH",
                                                             "spectrum": spec})
                assert await call("/v1/pieces/classify", {**auth, "content-type": "application/json"}, body) == 200
            return run

        def post_bin(tag):
            async def run(i):
                assert await call("/v1/pieces/classify/binary", {
                    **auth, "content-type": "application/octet-stream", "x-line-id": "BENCH",
                    "x-piece-id": f"{tag}{i}"}, x32.tobytes()) == 200
            return run

        bodies.update({("J", i): orjson.dumps({"piece_id": f"J{i}", "line_id": "BENCH", "spectrum": spec})
                       for i in range(-20, n)})
        for tag in "KFT":
            bodies.update({(tag, i): orjson.dumps({"piece_id": f"{tag}{i}", "line_id": "BENCH", "spectrum": spec})
                           for i in range(-20, n)})
        access = logging.getLogger("api.access")
        level, propagate = access.level, access.propagate
        with open(os.devnull, "w") as devnull:
            handler = logging.StreamHandler(devnull)
            access.addHandler(handler)
            access.setLevel(logging.INFO)
            access.propagate = False
            try:
                out["app as ASGI, JSON (no HTTP, no socket; access log on)"] = asgi_ms(post_json("J"))
                out["app as ASGI, binary"] = asgi_ms(post_bin("B"))
                access.setLevel(logging.WARNING)
                out["app as ASGI, JSON, access log off"] = asgi_ms(post_json("K"))
            finally:
                access.removeHandler(handler)
                access.setLevel(level)
                access.propagate = propagate
            # the same requests through the FastAPI routes (the direct answers of api.direct off)
            middleware = app.middleware_stack
            while not isinstance(middleware, ServiceMiddleware):
                middleware = middleware.app
            direct = middleware.direct
            middleware.direct = None
            try:
                out["app as ASGI, JSON, through the FastAPI route (no direct answer)"] = asgi_ms(post_json("F"))
                out["app as ASGI, binary, through the FastAPI route (no direct answer)"] = asgi_ms(post_bin("G"))
            finally:
                middleware.direct = direct
            middleware.direct = DirectRoutes(app, inline=False)
            try:
                out["app as ASGI, JSON, direct answer with the job in a worker thread"] = asgi_ms(post_json("T"))
                out["app as ASGI, binary, direct answer with the job in a worker thread"] = asgi_ms(post_bin("U"))
            finally:
                middleware.direct = direct
        with mock.patch.object(routes, "record", lambda state, pieces, key_id: [{"stored": True}]):
            out["app as ASGI, JSON, the job replaced by its answer"] = asgi_ms(post_json("J"))
            out["app as ASGI, binary, the job replaced by its answer"] = asgi_ms(post_bin("B"))
        body = bodies[("J", 0)]
        out["JSON body: orjson + numpy checks"] = cpu_ms(lambda i: fast_piece(orjson.loads(body), PieceIn))
        loop.close()
        app.state.engine.dispose()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="single-piece requests per form")
    parser.add_argument("--batch", type=int, default=100, help="pieces per batch request")
    parser.add_argument("--batches", type=int, default=20, help="batch requests")
    parser.add_argument("--soak", action="store_true", help="also run the fixed-rate soak")
    parser.add_argument("--soak-s", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=500.0, help="soak requests per second")
    parser.add_argument("--no-stages", action="store_true", help="skip the in-process stage figures (to time "
                        "an older api/ with this script: PYTHONPATH=OLD_TREE)")
    args = parser.parse_args(argv)

    spectrum = read_spectrum(next((ROOT / "sample_spectra").glob("5182_broadband_*.csv")))
    wl, x = spectrum.wavelength_nm, spectrum.intensity
    sorter = Sorter(threads=1)
    cpu0 = time.process_time()
    in_process = timed(lambda i: sorter.classify(spectrum), args.n)
    in_process_cpu_ms = (time.process_time() - cpu0) / (args.n + 20) * 1000.0
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
            client = Client(url)
            try:
                json_bodies = {}

                def json_body(i: int) -> bytes:   # made before the timing: the client's JSON is not the server's
                    return json_bodies.get(i) or json.dumps({"piece_id": f"j{i}", "line_id": "BENCH",
                                                             "spectrum": spec}).encode()

                json_bodies = {i: json_body(i) for i in range(-20, args.n)}

                def post_json(i: int) -> None:
                    status, answer = client.post("/v1/pieces/classify", json_bodies[i], json_head)
                    assert status == 200, answer[:300]

                def post_bin(i: int) -> None:
                    status, answer = client.post("/v1/pieces/classify/binary", raw, {**bin_head, "X-Piece-Id": f"b{i}"})
                    assert status == 200, answer[:300]

                cpu0 = cpu_s(proc.pid)
                single_json = timed(post_json, args.n)
                cpu1 = cpu_s(proc.pid)
                single_bin = timed(post_bin, args.n)
                cpu2 = cpu_s(proc.pid)
                batch_bodies = [json.dumps({"pieces": [{"piece_id": f"B{k}-{i}", "line_id": "BENCH", "spectrum": spec}
                                                       for i in range(args.batch)]}).encode()
                                for k in range(args.batches)]
                t = time.perf_counter()
                for body in batch_bodies:
                    status, answer = client.post("/v1/pieces/classify/batch", body, json_head)
                    assert status == 200, answer[:300]
                batch_rate = args.batch * args.batches / (time.perf_counter() - t)
                rows = np.repeat(x[None, :], args.batch, axis=0).astype("<f4").tobytes()
                t = time.perf_counter()
                for k in range(args.batches):
                    ids = ",".join(f"R{k}-{i}" for i in range(args.batch))
                    status, answer = client.post("/v1/pieces/classify/batch/binary", rows,
                                                 {**bin_head, "X-Piece-Ids": ids})
                    assert status == 200, answer[:300]
                binary_batch_rate = args.batch * args.batches / (time.perf_counter() - t)
            finally:
                client.close()
            if args.soak:
                cpu3 = cpu_s(proc.pid)
                soaked = soak(url, key, raw, args.soak_s, args.rate)
                cpu4 = cpu_s(proc.pid)
                if cpu3 is not None and cpu4 is not None:
                    soaked["server_cpu_ms"] = (cpu4 - cpu3) / soaked["requests"] * 1000.0
            else:
                soaked = None
        finally:
            proc.kill()
            proc.wait(30)

    def server_cpu_ms(a: float | None, b: float | None) -> str:
        if a is None or b is None:
            return ""
        return f"server CPU {(b - a) / (args.n + 20) * 1000.0:.3f} ms a request"

    p50_ip, p99_ip = ms(in_process, 50), ms(in_process, 99)
    p50_j, p99_j, p50_b, p99_b = ms(single_json, 50), ms(single_json, 99), ms(single_bin, 50), ms(single_bin, 99)
    cpu_note = f"in-process CPU {in_process_cpu_ms:.3f} ms a call"
    figures = [
        Figure("single-piece JSON classify p50, 4096 points, one worker", round(p50_j, 3), "ms",
               "in-process Sorter.classify p50", round(p50_ip, 3), round(p50_ip / p50_j, 3), "<= 2 ms", p50_j <= 2.0,
               note=f"{server_cpu_ms(cpu0, cpu1)}; {cpu_note}"),
        Figure("single-piece JSON classify p99", round(p99_j, 3), "ms", "in-process Sorter.classify p99",
               round(p99_ip, 3), round(p99_ip / p99_j, 3), "<= 5 ms", p99_j <= 5.0),
        Figure("single-piece binary classify p50", round(p50_b, 3), "ms", "JSON classify p50", round(p50_j, 3),
               round(p50_j / p50_b, 3), ">= 2x faster than JSON", p50_j / p50_b >= 2.0,
               note=f"p99 {p99_b:.3f} ms; in-process p50 {p50_ip:.3f} ms (ratio {p50_ip / p50_b:.3f}); "
                    f"{server_cpu_ms(cpu1, cpu2)}"),
        Figure(f"batch classify, {args.batch} pieces a request (JSON)", round(batch_rate, 1), "pieces/s",
               "in-process Sorter.classify_array", round(in_process_rate, 1), round(batch_rate / in_process_rate, 4),
               ">= 5,000 pieces/s", batch_rate >= 5000),
        Figure(f"batch classify, {args.batch} pieces a request (binary)", round(binary_batch_rate, 1), "pieces/s",
               "in-process Sorter.classify_array", round(in_process_rate, 1),
               round(binary_batch_rate / in_process_rate, 4), ">= 5,000 pieces/s", binary_batch_rate >= 5000),
    ]
    if soaked:
        held = soaked["errors"] == 0 and soaked["sent_per_s"] >= 0.98 * args.rate and \
            soaked["answered_per_s"] >= 0.98 * args.rate
        figures.append(Figure(f"soak: {args.soak_s:g} s at {args.rate:g} requests/s (binary, open loop)",
                              soaked["errors"], "errors", target="no error and the rate held", met=held,
                              note=f"{soaked['requests']} requests on {soaked['connections']} connections; sent "
                                   f"{soaked['sent_per_s']:.1f}/s, answered {soaked['answered_per_s']:.1f}/s; "
                                   f"sends late against the schedule p50 {soaked['late_p50_ms']:.2f} ms, p99 "
                                   f"{soaked['late_p99_ms']:.2f} ms, max {soaked['late_max_ms']:.1f} ms "
                                   f"({soaked['late_over_10ms']} over 10 ms); answers p50 "
                                   f"{soaked['latency_p50_ms']:.2f} ms, p99 {soaked['latency_p99_ms']:.2f} ms, "
                                   f"max {soaked['latency_max_ms']:.1f} ms"
                                   + (f"; server CPU {soaked['server_cpu_ms']:.3f} ms a request"
                                      if "server_cpu_ms" in soaked else "")))
    for f in figures:
        ratio = f" (ratio to {f.baseline}: {f.ratio})" if f.ratio is not None else ""
        print(f"{f.what}: {f.value} {f.unit}{ratio}; target {f.target}: {'met' if f.met else 'NOT met'}"
              + (f"; {f.note}" if f.note else ""))
    if not args.no_stages:
        figures += stages(spectrum, min(args.n, 300))
        parts = breakdown(spectrum, min(args.n, 300))
        server = {"JSON": (cpu0, cpu1), "binary": (cpu1, cpu2)}
        for form, (a, b) in server.items():
            if a is not None and b is not None:
                asgi = parts["app as ASGI, JSON (no HTTP, no socket; access log on)" if form == "JSON"
                             else "app as ASGI, binary"]
                parts[f"uvicorn, HTTP parsing and the socket, {form} (server CPU a request less the app as ASGI)"] = (
                    (b - a) / (args.n + 20) * 1000.0 - asgi)
        for what, value in parts.items():
            figures.append(Figure(f"cpu: {what}", round(value, 3), "ms CPU a request",
                                  note="this process, all threads (time.process_time)"))
            print(f"cpu: {what}: {value:.3f} ms")
    write("serve_latency", figures, argv=argv, title="Sorting service latency and throughput (aluloop serve)")


if __name__ == "__main__":
    main()
