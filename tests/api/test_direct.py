"""The direct answers of the single-piece classify routes (``api.direct``) are the FastAPI routes' answers.

Two apps get the same requests in the same order: one as served (the direct path on), one with the
direct path switched off, so that every request goes through FastAPI's route. The route is the
reference: for every request the two answers must be equal (status, problem+json body, headers;
``received_at`` is the clock), and the two databases end up holding the same records. Hypothesis
draws the headers, keys and bodies, valid and not.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from api.db.keys import authenticate, create_key, key_hash
from api.deps import KEYS
from api.main import create_app
from api.middleware import ServiceMiddleware
from api.settings import load_settings
from tests.api.support import bearer, piece_body, sample
from tests.api.test_fast_paths import bodies

KEY_KINDS = ("controller", "controller-uncached", "controller-L7", "quality", "unknown", "none", "basic")


class Served:
    """An app under a TestClient, its keys by kind, and a count of the requests answered directly."""

    def __init__(self, tmp_path, direct: bool):
        self.app = create_app(load_settings(database_url=f"sqlite:///{tmp_path / 'service.db'}",
                                            max_body_bytes=256 * 1024))
        self.client = TestClient(self.app).__enter__()
        with self.app.state.sessions() as session:
            made = {"controller": create_key(session, "controller")[1],
                    "controller-L7": create_key(session, "controller", lines=["L7"])[1],
                    "quality": create_key(session, "quality")[1]}
            session.commit()
        self.keys = made
        self.middleware = self._middleware()
        self.answered_directly = 0
        if not direct:
            self.middleware.direct = None
        else:
            inner = self.middleware.direct
            outer = self

            class Counting:
                def takes(self, scope):
                    return inner.takes(scope)

                async def __call__(self, scope, receive, send):
                    handed_on = await inner(scope, receive, send)
                    outer.answered_directly += handed_on is None
                    return handed_on

            self.middleware.direct = Counting()

    def _middleware(self) -> ServiceMiddleware:
        layer = self.app.middleware_stack
        while not isinstance(layer, ServiceMiddleware):
            layer = layer.app
        return layer

    def headers(self, kind: str) -> dict[str, str]:
        """The Authorization header of a key kind; a cached key is put in the cache as a request would."""
        if kind in self.keys:
            with self.app.state.sessions() as session:
                KEYS.put(key_hash(self.keys[kind]), authenticate(session, self.keys[kind]))
            return bearer(self.keys[kind])
        if kind == "controller-uncached":
            KEYS.clear()
            return bearer(self.keys["controller"])
        return {"none": {}, "unknown": bearer("alu_unknown"),
                "basic": {"Authorization": f"Basic {self.keys['controller']}"}}[kind]

    def records(self) -> list[dict]:
        with self.app.state.sessions() as session:
            rows = session.execute(text("SELECT line_id, piece_id, state, grade, bin, key_id, result "
                                               "FROM piece_records ORDER BY id")).all()
        return [{**dict(r._mapping), "result": _timeless(json.loads(r.result))} for r in rows]

    def close(self) -> None:
        self.client.__exit__(None, None, None)


def _timeless(body: object) -> object:
    return {k: v for k, v in body.items() if k != "received_at"} if isinstance(body, dict) else body


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> Iterator[tuple[Served, Served]]:
    direct = Served(tmp_path_factory.mktemp("direct"), direct=True)
    route = Served(tmp_path_factory.mktemp("route"), direct=False)
    yield direct, route
    direct.close()
    route.close()


def same_answer(pair, path: str, key_kind: str, headers: dict[str, str], content: bytes) -> int:
    """POST to both apps; assert equal answers; the status."""
    answers = []
    for served in pair:
        r = served.client.post(path, content=content, headers={**served.headers(key_kind), **headers})
        answers.append(r)
    a, b = answers
    assert a.status_code == b.status_code, (a.text[:300], b.text[:300])
    assert a.headers.get("content-type") == b.headers.get("content-type")
    assert a.headers.get("www-authenticate") == b.headers.get("www-authenticate")
    assert _timeless(a.json()) == _timeless(b.json())
    return a.status_code


SPECTRUM = sample("5182")
BODY = SPECTRUM.intensity.astype("<f4").tobytes()
NAN_BODY = np.frombuffer(BODY, dtype="<f4").copy()
NAN_BODY[9] = np.nan
BAD_BODIES = [BODY[:-4], BODY + b"\0\0\0\0", NAN_BODY.tobytes(), b""]
# each header's values the route takes (None: not sent), and values it refuses
GOOD_HEADERS = {"X-Piece-Id": ["p1", "p2", "p,3"], "X-Line-Id": ["L1", "L7"],
                "X-Captured-At": [None, "2026-12-06T10:00:00Z", "2026-12-06T10:00:00+01:00", "1765015200"],
                "X-Encoder-Count": [None, "88213", "0"], "X-Belt-Speed-M-S": [None, "2.5", "0", "1e1"],
                "X-Mass-Kg": [None, "0.31", "1e-3"], "X-Model": [None, "broadband"]}
BAD_HEADERS = {"X-Piece-Id": [None, "", "x" * 201], "X-Line-Id": [None, "", " L1", "L/1", "a" * 101],
               "X-Captured-At": ["2026-12-06T10:00:00", "yesterday", ""],
               "X-Encoder-Count": ["-1", "1.5", "1e3", str(2**62 + 1), "x"],
               "X-Belt-Speed-M-S": ["100.5", "nan", "inf", "-0.1", "2,5"], "X-Mass-Kg": ["10001", "NaN", ""],
               "X-Model": ["nope", "", "x" * 201]}


@st.composite
def binary_requests(draw) -> tuple[str, dict[str, str], bytes]:
    """A request the route answers 200, then 0 to 2 of its parts (key, a header, the body) made wrong."""
    headers = {name: draw(st.sampled_from(values)) for name, values in GOOD_HEADERS.items()}
    key_kind, body = "controller-L7" if headers["X-Line-Id"] == "L7" else "controller", BODY
    for part in draw(st.lists(st.sampled_from(["key", "body", *BAD_HEADERS]), max_size=2, unique=True)):
        if part == "key":
            key_kind = draw(st.sampled_from(KEY_KINDS))
        elif part == "body":
            body = draw(st.sampled_from(BAD_BODIES))
        else:
            headers[part] = draw(st.sampled_from(BAD_HEADERS[part]))
    out = {name: value for name, value in headers.items() if value is not None}
    return key_kind, {**out, "Content-Type": "application/octet-stream"}, body


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(drawn=binary_requests())
def test_the_binary_form_answers_as_its_route_does(pair, drawn):
    key_kind, headers, body = drawn
    before = pair[0].answered_directly
    status = same_answer(pair, "/v1/pieces/classify/binary", key_kind, headers, body)
    if pair[0].answered_directly > before:   # the direct path answers only what the route answers 200
        assert status == 200


SHORT = {"wavelength_nm": SPECTRUM.wavelength_nm[:64].tolist(), "intensity": SPECTRUM.intensity[:64].tolist()}
# a change that leaves a piece valid, or makes it one the route refuses (or needs pydantic to read)
JSON_CHANGES = {
    "short spectrum": lambda b: {**b, "spectrum": dict(SHORT)},
    "instrument": lambda b: {**b, "spectrum": {**b["spectrum"], "instrument": "other"}},
    "captured_at": lambda b: {**b, "captured_at": "2026-12-06T10:00:00Z"},
    "encoder and belt": lambda b: {**b, "encoder_count": 5, "belt_speed_m_s": 2.5},
    "mass": lambda b: {**b, "mass_kg": 0.3},
    "line L7": lambda b: {**b, "line_id": "L7"},
    "true among numbers": lambda b: _spectrum_value(b, "intensity", True),
    "null among numbers": lambda b: _spectrum_value(b, "intensity", None),
    "string number": lambda b: _spectrum_value(b, "intensity", "1.0"),
    "NaN": lambda b: _spectrum_value(b, "intensity", float("nan")),
    "integer wavelength": lambda b: _spectrum_value(b, "wavelength_nm", 300),
    "decreasing": lambda b: _spectrum_value(b, "wavelength_nm", 1e4),
    "ragged": lambda b: {**b, "spectrum": {**b["spectrum"], "intensity": b["spectrum"]["intensity"][:-1]}},
    "no piece_id": lambda b: {k: v for k, v in b.items() if k != "piece_id"},
    "piece_id number": lambda b: {**b, "piece_id": 7},
    "bad line": lambda b: {**b, "line_id": " L1"},
    "no time zone": lambda b: {**b, "captured_at": "2026-12-06T10:00:00"},
    "negative mass": lambda b: {**b, "mass_kg": -1.0},
    "float encoder": lambda b: {**b, "encoder_count": 1.5},
    "extra field": lambda b: {**b, "colour": "red"},
}


def _spectrum_value(body: dict, name: str, value) -> dict:
    values = list(body["spectrum"][name])
    values[len(values) // 2] = value
    return {**body, "spectrum": {**body["spectrum"], name: values}}


@st.composite
def json_requests(draw) -> tuple[str, str, bytes]:
    """A piece the route answers 200 (a real spectrum), then 0 to 3 changes, the key, the content type;
    or a body of ``bodies()`` (small, mostly malformed)."""
    if draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(KEY_KINDS)), "application/json", json.dumps(draw(bodies())).encode()
    body = piece_body(SPECTRUM, draw(st.sampled_from(["j1", "j2", "j3"])))
    for change in draw(st.lists(st.sampled_from(sorted(JSON_CHANGES)), max_size=3, unique=True)):
        body = JSON_CHANGES[change](body)
    key_kind = "controller-L7" if body.get("line_id") == "L7" else "controller"
    if draw(st.integers(0, 4)) == 0:
        key_kind = draw(st.sampled_from(KEY_KINDS))
    content_type = draw(st.sampled_from(["application/json", "application/json; charset=utf-8",
                                         "application/problem+json", "text/plain", "application/x-json"]))
    content = json.dumps(body).encode()
    if draw(st.integers(0, 9)) == 0:   # not JSON at all, or not an object
        content = draw(st.sampled_from([content[: len(content) // 2], b"[1, 2]", b"null"]))
    return key_kind, content_type, content


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(drawn=json_requests())
def test_the_json_form_answers_as_its_route_does(pair, drawn):
    key_kind, content_type, content = drawn
    before = pair[0].answered_directly
    status = same_answer(pair, "/v1/pieces/classify", key_kind, {"Content-Type": content_type}, content)
    if pair[0].answered_directly > before:
        assert status == 200


def test_real_pieces_are_answered_directly_and_stored_as_the_route_stores_them(pair, monkeypatch):
    direct, route = pair
    for key_kind in ("controller", "controller-L7"):
        line = "L7" if key_kind == "controller-L7" else "L1"
        body = piece_body(SPECTRUM, f"real-{key_kind}", line_id=line, mass_kg=0.31,
                          captured_at="2026-12-06T10:00:00Z")
        before = direct.answered_directly
        assert same_answer(pair, "/v1/pieces/classify", key_kind, {"Content-Type": "application/json"},
                           json.dumps(body).encode()) == 200
        head = {"Content-Type": "application/octet-stream", "X-Piece-Id": f"bin-{key_kind}", "X-Line-Id": line,
                "X-Encoder-Count": "88213", "X-Belt-Speed-M-S": "2.5", "X-Mass-Kg": "0.31",
                "X-Captured-At": "2026-12-06T10:00:00Z"}
        assert same_answer(pair, "/v1/pieces/classify/binary", key_kind, head, BODY) == 200
        assert same_answer(pair, "/v1/pieces/classify/binary", key_kind, head, BODY) == 200   # a replay
        assert direct.answered_directly == before + 3
    assert direct.records() == route.records()


def test_errors_are_the_routes_own_word_for_word(pair):
    """401, 403, 404, 413 and 422 of both forms, each sent to both apps."""
    head = {"Content-Type": "application/octet-stream", "X-Piece-Id": "e1", "X-Line-Id": "L1"}
    cases = [("none", head, BODY, 401), ("unknown", head, BODY, 401), ("quality", head, BODY, 403),
             ("controller-L7", head, BODY, 403), ("controller", {**head, "X-Model": "nope"}, BODY, 404),
             ("controller", head, BODY[:-4], 422), ("controller", head, NAN_BODY.tobytes(), 422),
             ("controller", {**head, "X-Captured-At": "2026-12-06T10:00:00"}, BODY, 422),
             ("controller", head, BODY * 20, 413)]
    for key_kind, headers, content, status in cases:
        assert same_answer(pair, "/v1/pieces/classify/binary", key_kind, headers, content) == status
    piece = json.dumps(piece_body(SPECTRUM, "e2")).encode()
    for key_kind, content, status in [("none", piece, 401), ("quality", piece, 403), ("controller-L7", piece, 403),
                                      ("controller", piece.replace(b"e2", b""), 422),
                                      ("controller", piece[:-1], 422), ("controller", piece * 4, 413)]:
        assert same_answer(pair, "/v1/pieces/classify", key_kind, {"Content-Type": "application/json"},
                           content) == status
    assert pair[0].records() == pair[1].records()


def test_a_direct_answer_is_counted_and_logged_under_its_route(pair, caplog):
    direct, _ = pair
    before = direct.answered_directly
    head = {**direct.headers("controller"), "Content-Type": "application/octet-stream", "X-Piece-Id": "logged",
            "X-Line-Id": "L1"}
    counted = 'aluloop_request_seconds_count{method="POST",route="/v1/pieces/classify/binary",status="200"}'

    def count() -> float:
        lines = [x for x in direct.client.get("/metrics").text.splitlines() if x.startswith(counted)]
        return float(lines[0].rsplit(" ", 1)[1]) if lines else 0.0

    counted_before = count()
    with caplog.at_level(logging.INFO, logger="api.access"):
        assert direct.client.post("/v1/pieces/classify/binary", content=BODY, headers=head).status_code == 200
    assert direct.answered_directly == before + 1
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == "api.access"]
    assert [(e["route"], e["status"]) for e in logged] == [("/v1/pieces/classify/binary", 200)]
    assert count() == counted_before + 1
