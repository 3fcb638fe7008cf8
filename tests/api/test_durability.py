"""Durability: a client streams pieces, every server process is SIGKILLed mid-stream, the server restarts;
every piece the client saw acknowledged is in the database exactly once, with the id it was told.

The issue asks for 10,000 pieces: ``.ci/run`` sets ``ALULOOP_DURABILITY_PIECES=10000``; a plain
``pytest`` streams 2,000 so that the suite stays short on a shared machine. The kill comes when a
third of them are acknowledged, while the client keeps sending.
"""

from __future__ import annotations

import os
import threading

import httpx
import numpy as np
import pytest
from sqlalchemy import create_engine, text

from tests.api.support import Server, bearer, make_key, sample

N_PIECES = int(os.environ.get("ALULOOP_DURABILITY_PIECES", "2000"))


def stream(url: str, key: str, ids: list[str], body: bytes, acked: dict[str, str],
           kill_point: threading.Event | None = None, kill_after: int = 0) -> None:
    """Send ``ids`` one by one (binary form); record each acknowledged id's record id; stop at the first failure."""
    headers = {**bearer(key), "Content-Type": "application/octet-stream", "X-Line-Id": "D1"}
    with httpx.Client(base_url=url, timeout=30) as http:
        for pid in ids:
            try:
                r = http.post("/v1/pieces/classify/binary", content=body, headers={**headers, "X-Piece-Id": pid})
            except httpx.TransportError:
                return
            if r.status_code != 200:
                return
            acked[pid] = r.json()["record_id"]
            if kill_point is not None and len(acked) >= kill_after:
                kill_point.set()


def check_durability(env: dict[str, str], database_url: str, workers: int) -> None:
    key = make_key(env, "controller")
    ids = [f"piece-{i:05d}" for i in range(N_PIECES)]
    body = np.asarray(sample("5182").intensity, dtype="<f4").tobytes()
    acked: dict[str, str] = {}
    kill_point = threading.Event()
    server = Server(env, workers=workers).start()
    try:
        client = threading.Thread(target=stream, args=(server.url, key, ids, body, acked, kill_point,
                                                       N_PIECES // 3))
        client.start()
        assert kill_point.wait(1800), f"only {len(acked)} pieces acknowledged:\n{server.output()}"
    finally:
        server.kill()
    client.join(120)
    assert not client.is_alive()
    before_restart = dict(acked)
    assert N_PIECES // 3 <= len(before_restart) < N_PIECES, "the kill did not come mid-stream"

    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as c:
        rows = c.execute(text("SELECT piece_id, id FROM piece_records WHERE line_id = 'D1'")).all()
    stored = {pid: str(rid) for pid, rid in rows}
    assert len(rows) == len(stored)
    for pid, record_id in before_restart.items():
        assert stored.get(pid) == record_id, f"acknowledged piece {pid} lost or moved"
    # at most the one piece in flight when the kill came may be stored without its answer
    assert len(stored) - len(before_restart) <= workers

    # restart on the same database; the client sends from the first piece it saw no answer for
    with Server(env, workers=workers) as server:
        rest = [pid for pid in ids if pid not in before_restart]
        stream(server.url, key, rest, body, acked)
    assert len(acked) == N_PIECES
    with engine.connect() as c:
        counts = dict(c.execute(text("SELECT piece_id, COUNT(*) FROM piece_records WHERE line_id = 'D1' "
                                     "GROUP BY piece_id")).all())
    engine.dispose()
    assert set(counts) == set(ids)
    assert set(counts.values()) == {1}
    for pid, record_id in before_restart.items():
        assert acked[pid] == record_id


def server_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALULOOP_", "PROMETHEUS_"))}
    return env | {"ALULOOP_DATABASE_URL": database_url}


def test_sqlite_keeps_every_acknowledged_piece_through_a_sigkill(tmp_path):
    url = f"sqlite:///{tmp_path / 'durable.db'}"
    check_durability(server_env(url), url, workers=1)


@pytest.mark.postgres
def test_postgres_with_two_workers_keeps_every_acknowledged_piece_through_a_sigkill(postgres_url):
    check_durability(server_env(postgres_url), postgres_url, workers=2)
