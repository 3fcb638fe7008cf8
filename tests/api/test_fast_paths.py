"""The service's fast paths give what the slow ones give: JSON parsing, the key cache, sort rules, paging.

The JSON fast path (orjson + numpy) must accept exactly the bodies pydantic accepts and read them
to the same values; pydantic is the independent reference. The key cache may trust a key for at
most ``KEY_CACHE_S``; a revocation in the same process takes effect at once.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import text

import api.deps
from api.db.engine import make_engine, session_factory, upgrade
from api.deps import KEY_CACHE_S
from api.schemas import BatchIn, LinePieceIn, PieceIn, fast_batch, fast_piece, may_take_fast_path
from api.services.pieces import Piece, classify_pieces, page
from sorter.serving import Sorter
from tests.api.support import bearer, piece_body, sample

# numbers pydantic takes, and the things it must refuse in an array
finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)
element = st.one_of(finite, st.integers(-2**70, 2**70), st.booleans(), st.none(), st.text(max_size=3),
                    st.lists(finite, max_size=2))


@st.composite
def bodies(draw) -> dict:
    n = draw(st.integers(0, 6))
    if draw(st.booleans()):   # mostly well-formed: an increasing positive grid and finite numbers
        start = draw(st.floats(-1.0, 500.0))
        steps = draw(st.lists(st.floats(-0.5, 3.0), min_size=n, max_size=n))
        wl = list(np.cumsum([start, *steps])[:n]) if n else []
        wl = [float(v) for v in wl]
        intensity = draw(st.lists(st.one_of(finite, st.integers(-10, 10)), min_size=n, max_size=n + draw(
            st.integers(0, 1))))
    else:
        wl = draw(st.lists(element, max_size=n))
        intensity = draw(st.lists(element, max_size=n))
    spectrum: dict = {"wavelength_nm": wl, "intensity": intensity}
    if draw(st.booleans()):
        spectrum["instrument"] = draw(st.one_of(st.text(max_size=5), st.integers()))
    if draw(st.integers(0, 9)) == 0:
        spectrum["extra"] = 1
    body: dict = {"piece_id": draw(st.one_of(st.text(max_size=4), st.integers())),
                  "line_id": draw(st.sampled_from(["L1", "a.b-c", "", " bad", "L 1"])), "spectrum": spectrum}
    for name, values in (("captured_at", st.sampled_from(["2026-12-06T10:00:00Z", "2026-12-06T10:00:00", "x"])),
                         ("encoder_count", st.one_of(st.integers(-5, 2**63), finite)),
                         ("belt_speed_m_s", st.one_of(finite, st.integers(-1, 200))),
                         ("mass_kg", finite)):
        if draw(st.booleans()):
            body[name] = draw(values)
    if draw(st.integers(0, 9)) == 0:
        del body[draw(st.sampled_from(["piece_id", "line_id", "spectrum"]))]
    return body


def same_piece(fast, slow) -> None:
    assert fast.model_dump(exclude={"spectrum"}) == slow.model_dump(exclude={"spectrum"})
    assert fast.spectrum.instrument == slow.spectrum.instrument
    for a, b in zip(fast.spectrum.arrays, slow.spectrum.arrays, strict=True):
        assert a.dtype == b.dtype == np.float64
        np.testing.assert_array_equal(a, b)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies())
def test_the_fast_parse_accepts_only_what_pydantic_accepts_and_reads_the_same(body):
    raw = json.dumps(body).encode()
    try:
        slow = PieceIn.model_validate(json.loads(raw))
    except ValidationError:
        slow = None
    try:   # as the routes do: orjson refuses what it cannot read exactly (ints over 64 bits), pydantic says why
        fast = fast_piece(orjson.loads(raw), PieceIn) if may_take_fast_path(raw) else None
    except orjson.JSONDecodeError:
        fast = None
    if slow is None:
        assert fast is None
    elif may_take_fast_path(raw):   # every valid body without true/false takes the fast path
        same_piece(fast, slow)


def test_a_real_spectrum_takes_the_fast_path_for_every_json_form():
    body = piece_body(sample("5182"), "p1", mass_kg=0.31, captured_at="2026-12-06T10:00:00Z")
    raw = orjson.dumps(body)
    assert may_take_fast_path(raw)
    same_piece(fast_piece(orjson.loads(raw), PieceIn), PieceIn.model_validate(body))
    line_body = {k: v for k, v in body.items() if k != "line_id"}
    same_piece(fast_piece(line_body, LinePieceIn), LinePieceIn.model_validate(line_body))
    batch = {"pieces": [body, {**body, "piece_id": "p2"}]}
    fast, slow = fast_batch(batch), BatchIn.model_validate(batch)
    assert len(fast.pieces) == 2
    for a, b in zip(fast.pieces, slow.pieces, strict=True):
        same_piece(a, b)
    # one bad piece sends the whole batch to pydantic, which names it
    assert fast_batch({"pieces": [body, {**body, "piece_id": ""}]}) is None


def test_json_true_among_the_numbers_is_refused_as_before(client, keys):
    body = piece_body(sample("5182"), "p-bool")
    body["spectrum"]["intensity"][3] = True
    r = client.post("/v1/pieces/classify", headers=bearer(keys["controller"]), json=body)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"].startswith("spectrum.intensity")


def test_a_key_revoked_elsewhere_is_refused_within_the_cache_time(client, keys, app, monkeypatch):
    key = keys["quality"]
    assert client.get("/v1/pieces", params={"line_id": "L1"}, headers=bearer(key)).status_code == 200
    # another process revokes it (no ORM event in this one): this process may trust it for KEY_CACHE_S
    with app.state.sessions() as session:
        session.execute(text("UPDATE api_keys SET revoked_at = :t WHERE role = 'quality'"), {"t": datetime.now(UTC)})
        session.commit()
    assert client.get("/v1/pieces", params={"line_id": "L1"}, headers=bearer(key)).status_code == 200
    now = time.monotonic()
    monkeypatch.setattr(api.deps.time, "monotonic", lambda: now + KEY_CACHE_S + 0.001)
    assert client.get("/v1/pieces", params={"line_id": "L1"}, headers=bearer(key)).status_code == 401


def test_a_new_key_works_at_once_and_an_unknown_one_is_never_trusted(client, keys):
    admin = bearer(keys["admin"])
    assert client.get("/v1/pieces", params={"line_id": "L1"}, headers=bearer("alu_nope")).status_code == 401
    made = client.post("/v1/keys", headers=admin, json={"role": "quality"}).json()
    assert client.get("/v1/pieces", params={"line_id": "L1"}, headers=bearer(made["key"])).status_code == 200


def test_new_rules_apply_from_the_next_piece_even_when_written_by_another_process(client, keys, app):
    spectrum = sample("5182")
    first = client.post("/v1/pieces/classify", headers=bearer(keys["controller"]),
                        json=piece_body(spectrum, "r1")).json()
    assert first["decision"] == "accept" and first["bin"] == first["family"]
    rules = json.dumps({"bins": [], "default_bin": "elsewhere"})
    with app.state.sessions() as session:   # as another worker would: straight into the table
        session.execute(text("INSERT INTO line_rules (line_id, rules, updated_at) VALUES ('L1', :r, :t)"),
                        {"r": rules, "t": datetime.now(UTC)})
        session.commit()
    second = client.post("/v1/pieces/classify", headers=bearer(keys["controller"]),
                         json=piece_body(spectrum, "r2")).json()
    assert second["bin"] == "elsewhere"


@pytest.mark.postgres
def test_a_page_never_skips_a_row_that_commits_after_a_later_one(postgres_url):
    """Writer A takes id n and stays open; writer B takes n+1 and commits. A page read meanwhile must
    not end at n+1 (the next page would start after it and never show n): it waits for A."""
    engine = make_engine(postgres_url)
    upgrade(engine)
    sessions = session_factory(engine)
    sorter = Sorter(threads=1)
    spectrum = sample("5182")

    def piece(pid: str) -> Piece:
        return Piece(pid, "L1", spectrum.wavelength_nm, spectrum.intensity, instrument="broadband")

    a = sessions()
    try:
        # A's transaction up to its commit: the same statements classify_pieces runs, commit held back
        commit_a = a.commit
        a.commit = lambda: None
        classify_pieces(a, sorter, [piece("A")])
        with sessions() as b:
            classify_pieces(b, sorter, [piece("B")])
        found: dict = {}
        reader = threading.Thread(target=lambda: found.update(items=page(sessions(), "L1", 10, None)[0]))
        reader.start()
        with engine.connect() as watch:   # the pager is queued on the lock while A is in flight
            for _ in range(1000):
                waiting = watch.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                             "AND NOT granted")).scalar()
                if waiting:
                    break
                reader.join(0.01)
            assert waiting == 1 and reader.is_alive() and not found
        commit_a()
        reader.join(30)
        assert [item["piece_id"] for item in found["items"]] == ["A", "B"]
    finally:
        a.close()
        engine.dispose()


def test_a_kept_metrics_child_is_the_one_prometheus_counts():
    """child() hands back what labels() gives, and what it counts shows in the exposition."""
    from api.metrics import PIECES, child, exposition

    kept = child(PIECES, "CHILD-LINE", "5182", "accept", "ok")
    assert kept is PIECES.labels("CHILD-LINE", "5182", "accept", "ok")
    assert child(PIECES, "CHILD-LINE", "5182", "accept", "ok") is kept
    before = kept._value.get()
    for _ in range(3):
        child(PIECES, "CHILD-LINE", "5182", "accept", "ok").inc()
    text_out = exposition()[0].decode()
    line = next(x for x in text_out.splitlines() if x.startswith("aluloop_pieces_total{") and "CHILD-LINE" in x)
    assert float(line.rsplit(" ", 1)[1]) == before + 3


@pytest.mark.parametrize("captured_at", [None, datetime(2026, 12, 6, 10, 0, 0, 120000, tzinfo=UTC),
                                         datetime.fromisoformat("2026-12-06T11:00:00.5+01:00")])
def test_the_one_row_insert_on_sqlite_stores_what_sqlalchemy_stores(tmp_path, captured_at):
    """The single-piece INSERT runs on the driver's cursor with the columns' own conversions; the row it
    writes must be the one SQLAlchemy's statement writes from the same values, to the stored text."""
    from api.services.pieces import _driver, _insert_statement, _sqlite_plan

    engine = make_engine(f"sqlite:///{tmp_path / 'rows.db'}")
    upgrade(engine)
    sessions = session_factory(engine)
    row = {"line_id": "L1", "state": "ok", "grade": "5182", "family": "5xxx", "decision": "accept", "bin": "B1",
           "model_name": "broadband", "captured_at": captured_at, "received_at": datetime.now(UTC),
           "encoder_count": 2**40, "belt_speed_m_s": 2.5, "mass_kg": 1, "key_id": 3, "result": '{"a": 1}'}
    with sessions() as session:
        by_sqlalchemy = list(session.connection().execute(_insert_statement("sqlite"), [{**row, "piece_id": "a"}]))
        connection = session.connection()
        by_driver = _driver(connection).execute(_sqlite_plan(connection.dialect).insert_sql,
                                                _sqlite_plan(connection.dialect).insert_params(
                                                    {**row, "piece_id": "b"})).fetchall()
        session.commit()
    assert [tuple(r)[1:] for r in by_sqlalchemy] == [("L1", "a")] and [r[1:] for r in by_driver] == [("L1", "b")]
    columns = [c for c in row if c != "piece_id"]
    with engine.connect() as c:
        stored = c.execute(text(f"SELECT {', '.join(f'typeof({n}), {n}' for n in columns)} FROM piece_records "
                                "ORDER BY piece_id")).all()
    assert stored[0] == stored[1]
    engine.dispose()
