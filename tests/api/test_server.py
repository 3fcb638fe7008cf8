"""A real ``aluloop serve`` process: keys from the CLI, classify over the socket, metrics, graceful stop."""

from __future__ import annotations

import json
import os
import signal
import threading

import httpx
import pytest

from tests.api.support import Server, bearer, make_key, piece_body, sample


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALULOOP_", "PROMETHEUS_"))}
    return env | {"ALULOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}"}


def test_served_keys_classify_metrics_and_access_log(env, tmp_path):
    admin = make_key(env, "admin", "--name", "ops")
    controller = make_key(env, "controller")
    assert admin.startswith("alu_") and admin != controller
    with Server(env) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        r = http.post("/v1/pieces/classify", headers=bearer(controller), json=piece_body(sample("5182"), "s1"))
        assert r.status_code == 200, r.text
        assert http.post("/v1/pieces/classify", headers=bearer(admin),
                         json=piece_body(sample("5182"), "s2")).status_code == 403
        metrics = http.get("/metrics").text
        grade, decision = r.json()["grade"], r.json()["decision"]
        assert f'aluloop_pieces_total{{decision="{decision}",grade="{grade}",line_id="L1",state="ok"}} 1.0' in metrics
        assert 'aluloop_request_seconds_count{method="POST",route="/v1/pieces/classify",status="200"} 1.0' in metrics
        lines = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
        assert {"route": "/v1/pieces/classify", "status": 403} in [{k: e[k] for k in ("route", "status")}
                                                                   for e in lines]
        assert all(e["duration_ms"] >= 0 for e in lines)


def in_flight(http: httpx.Client) -> float:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith("aluloop_requests_in_flight "):
            return float(line.split()[1])
    raise AssertionError("no aluloop_requests_in_flight in /metrics")


def test_sigterm_lets_the_request_in_flight_finish(env):
    controller = make_key(env, "controller")
    body = json.dumps({"pieces": [piece_body(sample("6061"), f"t{i}") for i in range(5)]}).encode()
    server = Server(env).start()
    first_half_sent, release = threading.Event(), threading.Event()
    answer: dict = {}

    def halves():
        yield body[: len(body) // 2]
        first_half_sent.set()
        release.wait(60)
        yield body[len(body) // 2:]

    def send() -> None:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            answer["response"] = http.post("/v1/pieces/classify/batch", content=halves(),
                                           headers={**bearer(controller), "Content-Type": "application/json",
                                                    "Content-Length": str(len(body))})

    sender = threading.Thread(target=send)
    sender.start()
    try:
        assert first_half_sent.wait(60)
        with httpx.Client(base_url=server.url, timeout=30) as http:
            # bounded poll until the server is serving the batch (the metrics request is the other one)
            for _ in range(600):
                if in_flight(http) >= 2:
                    break
            else:
                raise AssertionError("the batch request never reached the server")
        os.killpg(server.proc.pid, signal.SIGTERM)
    finally:
        release.set()
    code = server.proc.wait(timeout=120)
    sender.join(120)
    # uvicorn ends by re-raising the SIGTERM it handled, after shutting down cleanly
    assert code in (0, -signal.SIGTERM), server.output()
    assert "Application shutdown complete" in server.output()
    assert answer["response"].status_code == 200, answer["response"].text
    assert [p["piece_id"] for p in answer["response"].json()["items"]] == [f"t{i}" for i in range(5)]
