"""The OPC UA Machine Vision bridge: an asyncua client browses to a line's VisionSystem object, subscribes to
ResultReadyEvent and receives one event per piece classified over HTTP, in order, with the right ids, state and
fire count; keys and roles decide who signs in and which lines they read."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from asyncua import Client, ua
from fastapi.testclient import TestClient

from api.db.keys import create_key, key_hash, list_keys, revoke_key
from api.main import create_app
from api.opcua.bridge import Bridge
from api.opcua.server import EVENT_NAME, LINES_NAMESPACE, MACHINE_VISION, RESULT_READY_EVENT_TYPE, VISION_SYSTEM_TYPE
from api.settings import load_settings
from tests.api.support import ROLES, bearer, free_port, piece_body, sample

EVENT_TIMEOUT_S = 30.0   # bound of each wait for an event (they come in milliseconds)
# 1,000 counts/m, nozzle 1,200 counts, lead 4 ms; at 0.25 m/s the lead is 1 count and the piece reaches its
# fire count 1,199 counts = 4.8 s after capture: time enough for any test machine to decide
EJECTION = {"encoder_counts_per_m": 1000.0, "nozzle_offset_counts": 1200, "valve_lead_time_s": 0.004}
BELT_M_S = 0.25


class Loop:
    """An event loop in a thread: the bridge runs there for the whole module (its NodeSets take seconds to load),
    and each test runs its client there."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="opcua-test-loop", daemon=True)
        self.thread.start()

    def run(self, coro, timeout_s: float = 120.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()


class Service:
    """One app on one SQLite file, a key of every role, the OPC UA bridge on it, and the loop the bridge runs in."""

    def __init__(self, settings, client: TestClient, keys: dict[str, str], bridge: Bridge, loop: Loop):
        self.settings, self.client, self.keys, self.bridge, self.loop = settings, client, keys, bridge, loop
        self.endpoint = settings.opcua_endpoint

    def key(self, role: str, lines: list[str] | None = None) -> str:
        with self.client.app.state.sessions() as session:
            key = create_key(session, role, f"opc {role}", lines)[1]
            session.commit()
        return key


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("opcua")
    settings = load_settings(database_url=f"sqlite:///{folder / 'service.db'}", max_body_bytes=1024 * 1024,
                             opcua_endpoint=f"opc.tcp://127.0.0.1:{free_port()}")
    with TestClient(create_app(settings)) as client:
        with client.app.state.sessions() as session:
            keys = {role: create_key(session, role, f"test {role}")[1] for role in ROLES}
            session.commit()
        for line in ("L1", "A", "B"):   # these lines are known from their configuration before any record
            set_rules(client, keys["admin"], line)
        loop = Loop()
        bridge = loop.run(Bridge(settings).start())
        try:
            yield Service(settings, client, keys, bridge, loop)
        finally:
            loop.run(bridge.stop())
            loop.close()


class Events:
    """Events as they arrive, to await one at a time."""

    def __init__(self):
        self.queue: asyncio.Queue = asyncio.Queue()

    def event_notification(self, event) -> None:
        self.queue.put_nowait(event)

    async def next(self):
        return await asyncio.wait_for(self.queue.get(), EVENT_TIMEOUT_S)


def signed_in(endpoint: str, key: str | None) -> Client:
    client = Client(endpoint, timeout=30)
    if key is not None:
        client.set_user("plc")
        client.set_password(key)
    return client


async def subscribe(client: Client, line_id: str) -> Events:
    """Browse Objects -> the line's VisionSystemType object and subscribe to its ResultReadyEvents."""
    await client.load_data_type_definitions()
    mv = await client.get_namespace_index(MACHINE_VISION)
    idx = await client.get_namespace_index(LINES_NAMESPACE)
    line = await client.nodes.objects.get_child(f"{idx}:{line_id}")
    assert await line.read_type_definition() == ua.NodeId(VISION_SYSTEM_TYPE, mv)
    result_ready = client.get_node(ua.NodeId(RESULT_READY_EVENT_TYPE, mv))
    sort_result = await result_ready.get_child(f"{idx}:{EVENT_NAME}")
    events = Events()
    subscription = await client.create_subscription(0, events)
    await subscription.subscribe_events(line, [result_ready, sort_result])
    return events


def classify(client, key: str, pieces: list[dict]) -> list[dict]:
    out = []
    for body in pieces:
        r = client.post("/v1/pieces/classify", headers=bearer(key), json=body)
        assert r.status_code == 200, r.text
        out.append(r.json())
    return out


def set_rules(client, admin: str, line_id: str) -> None:
    r = client.put(f"/v1/lines/{line_id}/rules", headers=bearer(admin), json={"ejection": EJECTION})
    assert r.status_code == 200, r.text


def line_pieces() -> list[dict]:
    """Four pieces captured now, one captured 10 s ago (late), one no model reads (invalid)."""
    now = datetime.now(UTC)
    wl = np.linspace(1000.0, 1100.0, 500)   # beyond every model's grid: invalid
    pieces = [piece_body(sample(g), f"p{i}", encoder_count=10_000 * (i + 1), belt_speed_m_s=BELT_M_S,
                         captured_at=now.isoformat()) for i, g in enumerate(["5182", "6061", "brass", "1050A"])]
    # captured 10 s ago: 2,500 counts travelled at 0.25 m/s, past its fire count 1,199 counts after capture
    pieces.append(piece_body(sample("5182"), "late", encoder_count=90_000, belt_speed_m_s=BELT_M_S,
                             captured_at=(now - timedelta(seconds=10)).isoformat()))
    pieces.append({"piece_id": "bad", "line_id": "L1", "encoder_count": 95_000, "belt_speed_m_s": BELT_M_S,
                   "spectrum": {"wavelength_nm": wl.tolist(), "intensity": np.full(500, 100.0).tolist()}})
    return pieces


def test_one_event_per_piece_in_order_with_part_id_state_and_fire_count(service):
    client, keys = service.client, service.keys

    async def scenario():
        async with signed_in(service.endpoint, keys["controller"]) as opc:
            assert MACHINE_VISION in await opc.get_namespace_array()
            events = await subscribe(opc, "L1")
            pieces = line_pieces()
            before = service.bridge.published
            answers = await asyncio.to_thread(classify, client, keys["controller"], pieces)
            got = [await events.next() for _ in pieces]
            # a re-sent piece adds no record, so no event: the next event is the next new piece's
            await asyncio.to_thread(classify, client, keys["controller"], [pieces[0], piece_body(sample("6061"),
                                                                                                  "after")])
            assert (await events.next()).PartId.Id == "after"
            assert service.bridge.published - before == len(pieces) + 1
            return pieces, answers, got

    pieces, answers, got = service.loop.run(scenario())
    assert [e.PartId.Id for e in got] == [p["piece_id"] for p in pieces]
    assert [e.ResultId.Id for e in got] == [a["record_id"] for a in answers]
    assert [e.ResultState for e in got] == [1, 1, 1, 1, -1, 4]   # Completed x 4, Late, Failed
    # fire count by hand: capture + 1,200 nozzle - 0.004 s x 0.25 m/s x 1,000 counts/m = capture + 1,199
    assert [e.FireCount for e in got] == [p["encoder_count"] + 1_199 for p in pieces]
    assert [(e.Grade, e.Bin, e.Decision) for e in got] == [(a["grade"] or "", a["bin"], a["decision"])
                                                           for a in answers]
    assert got[4].Bin == "recirculate" and answers[4]["state"] == "late"
    assert {(e.LineId, e.IsPartial, e.IsSimulated) for e in got} == {("L1", False, False)}
    # the content is the stored body the line was answered (the answer adds its cursor and replay flag)
    assert [json.loads(e.ResultContent[0].Value) for e in got] == [
        {k: v for k, v in a.items() if k not in ("record_id", "replayed")} for a in answers]


def test_a_line_first_seen_in_a_record_gets_its_object(service):
    client, keys = service.client, service.keys

    async def scenario():
        async with signed_in(service.endpoint, keys["quality"]) as opc:
            await asyncio.to_thread(classify, client, keys["controller"], [piece_body(sample("5182"), "n1",
                                                                                      line_id="NEW")])
            while "NEW" not in service.bridge.lines.generators:   # bounded by run()'s timeout; polled every 10 ms
                await asyncio.sleep(0.01)
            events = await subscribe(opc, "NEW")
            await asyncio.to_thread(classify, client, keys["controller"], [piece_body(sample("6061"), "n2",
                                                                                      line_id="NEW")])
            event = await events.next()
            assert (event.PartId.Id, event.FireCount) == ("n2", None)   # no ejection set-up: no fire count

    service.loop.run(scenario())


async def refused(endpoint: str, key: str | None) -> bool:
    """True when the server refuses the sign-in (and says so), False when the session opens."""
    try:
        async with signed_in(endpoint, key):
            return False
    except (ua.uaerrors.BadUserAccessDenied, ua.uaerrors.BadIdentityTokenRejected):
        return True


def test_sign_in_needs_a_reader_key_and_anonymous_is_off(service):
    keys = service.keys
    revoked = service.key("controller")
    with service.client.app.state.sessions() as session:
        revoke_key(session, next(k.id for k in list_keys(session) if key_hash(revoked) == k.key_sha256))
        session.commit()

    async def scenario():
        for key in (None, "alu_not-a-key", revoked, keys["admin"], keys["engineer"]):
            assert await refused(service.endpoint, key), key
        for key in (keys["controller"], keys["quality"]):
            assert not await refused(service.endpoint, key), key

    service.loop.run(scenario())


def test_anonymous_sign_in_when_configured(service):
    settings = service.settings.model_copy(update={"opcua_anonymous": True,
                                                   "opcua_endpoint": f"opc.tcp://127.0.0.1:{free_port()}"})

    async def scenario():
        async with Bridge(settings), signed_in(settings.opcua_endpoint, None) as opc:
            events = await subscribe(opc, "L1")
            await asyncio.to_thread(classify, service.client, service.keys["controller"],
                                    [piece_body(sample("5182"), "anonymous-1")])
            assert (await events.next()).PartId.Id == "anonymous-1"

    service.loop.run(scenario())


def test_a_controller_key_reads_only_its_lines(service):
    key_a = service.key("controller", ["A"])

    async def scenario():
        async with signed_in(service.endpoint, key_a) as opc:
            events = await subscribe(opc, "A")
            idx = await opc.get_namespace_index(LINES_NAMESPACE)
            other = await opc.nodes.objects.get_child(f"{idx}:B")   # browsing the Objects folder names it
            with pytest.raises(ua.uaerrors.BadUserAccessDenied):
                await other.read_browse_name()
            with pytest.raises(ua.uaerrors.BadUserAccessDenied):
                await other.get_children()
            subscription = await opc.create_subscription(0, Events())
            with pytest.raises(ua.uaerrors.BadUserAccessDenied):
                await subscription.subscribe_events(other)
            own = await (await opc.nodes.objects.get_child(f"{idx}:A")).get_children()
            with pytest.raises(ua.uaerrors.BadUserAccessDenied):   # read-only: no writes, even to its own line
                await own[0].write_value(ua.Variant("x"))
            await asyncio.to_thread(classify, service.client, service.keys["controller"], [
                piece_body(sample("5182"), "b1", line_id="B"), piece_body(sample("5182"), "a1", line_id="A")])
            assert (await events.next()).PartId.Id == "a1"

    service.loop.run(scenario())


@pytest.mark.postgres
def test_on_postgresql_replays_burn_ids_and_every_new_piece_still_comes_once(postgres_url):
    settings = load_settings(database_url=postgres_url, max_body_bytes=1024 * 1024,
                             opcua_endpoint=f"opc.tcp://127.0.0.1:{free_port()}")
    with TestClient(create_app(settings)) as client:
        with client.app.state.sessions() as session:
            controller, admin = (create_key(session, role, role)[1] for role in ("controller", "admin"))
            session.commit()
        set_rules(client, admin, "PG")
        loop = Loop()
        try:
            async def scenario():
                async with Bridge(settings) as bridge, signed_in(settings.opcua_endpoint, controller) as opc:
                    events = await subscribe(opc, "PG")
                    # the second and fourth are replays: PostgreSQL burns an id on each (ON CONFLICT DO NOTHING)
                    ids = ["g1", "g1", "g2", "g2", "g3"]
                    answers = await asyncio.to_thread(classify, client, controller, [
                        piece_body(sample("5182"), i, line_id="PG") for i in ids])
                    got = [await events.next() for _ in range(3)]
                    assert bridge.published == 3
                    return answers, got

            answers, got = loop.run(scenario())
        finally:
            loop.close()
    assert [e.PartId.Id for e in got] == ["g1", "g2", "g3"]
    assert [e.ResultId.Id for e in got] == [answers[i]["record_id"] for i in (0, 2, 4)]
    assert int(answers[4]["record_id"]) - int(answers[0]["record_id"]) > 2   # the premise: ids were burnt


async def certificate(folder, name: str, uri: str, use) -> tuple:
    """A self-signed application certificate (DER) and key (PEM) in ``folder``."""
    from asyncua.crypto.cert_gen import setup_self_signed_certificate

    cert, key = folder / f"{name}.der", folder / f"{name}.pem"
    await setup_self_signed_certificate(key, cert, uri, "127.0.0.1", use, {"commonName": name})
    return cert, key


def test_with_a_server_certificate_only_the_encrypted_endpoint_is_offered(service, tmp_path):
    from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
    from cryptography.x509.oid import ExtendedKeyUsageOID

    async def scenario():
        server_cert, server_key = await certificate(tmp_path, "server", "urn:aluloop:test:server",
                                                    [ExtendedKeyUsageOID.SERVER_AUTH])
        client_cert, client_key = await certificate(tmp_path, "client", "urn:aluloop:test:client",
                                                    [ExtendedKeyUsageOID.CLIENT_AUTH])
        settings = service.settings.model_copy(update={
            "opcua_endpoint": f"opc.tcp://127.0.0.1:{free_port()}", "opcua_certificate": server_cert,
            "opcua_private_key": server_key})
        async with Bridge(settings):
            plain = Client(settings.opcua_endpoint, timeout=30)
            endpoints = await plain.connect_and_get_server_endpoints()
            assert {e.SecurityMode for e in endpoints} == {ua.MessageSecurityMode.SignAndEncrypt}
            opc = signed_in(settings.opcua_endpoint, service.keys["controller"])
            opc.application_uri = "urn:aluloop:test:client"
            await opc.set_security(SecurityPolicyBasic256Sha256, str(client_cert), str(client_key),
                                   server_certificate=str(server_cert))
            async with opc:
                events = await subscribe(opc, "L1")
                await asyncio.to_thread(classify, service.client, service.keys["controller"],
                                        [piece_body(sample("5182"), "encrypted-1")])
                assert (await events.next()).PartId.Id == "encrypted-1"

    service.loop.run(scenario())
