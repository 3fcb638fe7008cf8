"""``aluloop serve --opcua-endpoint`` with two workers: the companion bridge publishes what either worker commits."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time

import httpx
import pytest
from asyncua import Client, ua

from tests.api.support import Server, aluloop_command, bearer, free_port, make_key, piece_body, sample
from tests.api.test_opcua import subscribe

READY_S = 120.0


class OpcuaServer(Server):
    """``aluloop serve`` with ``--opcua-endpoint`` on a second free port."""

    def __init__(self, env, workers: int = 1):
        super().__init__(env, workers)
        self.endpoint = f"opc.tcp://127.0.0.1:{free_port()}"

    def start(self, timeout_s: float = READY_S) -> OpcuaServer:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [*aluloop_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--workers", str(self.workers), "--opcua-endpoint", self.endpoint], env=self.env,
                stdout=log, stderr=log, start_new_session=True)
        self.wait_ready(timeout_s)
        return self


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALULOOP_", "PROMETHEUS_"))}
    return env | {"ALULOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}"}


async def connect(endpoint: str, key: str, deadline: float) -> Client:
    """A signed-in client, once the companion listens (it loads its NodeSets after the HTTP side is up)."""
    while True:
        client = Client(endpoint, timeout=30)
        client.set_user("plc")
        client.set_password(key)
        try:
            await client.connect()
            return client
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)   # poll interval of a bounded wait for the port, not a synchronisation


def test_serve_with_an_opcua_endpoint_publishes_pieces_from_every_worker(env):
    admin, controller = make_key(env, "admin"), make_key(env, "controller")
    with OpcuaServer(env, workers=2) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.put("/v1/lines/L1/rules", headers=bearer(admin), json={}).status_code == 200

        async def scenario():
            deadline = time.monotonic() + READY_S
            opc = await connect(server.endpoint, controller, deadline)
            try:
                while True:   # the companion re-reads the line configuration every 2 s: L1 may come after it starts
                    try:
                        events = await subscribe(opc, "L1")
                        break
                    except ua.uaerrors.BadNoMatch:
                        assert time.monotonic() < deadline, server.output()
                        await asyncio.sleep(0.2)
                ids = [f"s{i}" for i in range(8)]
                for piece_id in ids:   # eight requests: both workers answer some of them
                    r = await asyncio.to_thread(http.post, "/v1/pieces/classify", headers=bearer(controller),
                                                json=piece_body(sample("5182"), piece_id))
                    assert r.status_code == 200, r.text
                return ids, [(await events.next()).PartId.Id for _ in ids]
            finally:
                await opc.disconnect()

        ids, got = asyncio.run(asyncio.wait_for(scenario(), 300))
        assert got == ids, server.output()
