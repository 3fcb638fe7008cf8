"""Every route declares its roles, and refuses every other role (403), no key and unknown keys (401)."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIWebSocketRoute
from starlette.websockets import WebSocketDisconnect

from api.main import ROUTERS
from tests.api.support import ROLES, app_routes, bearer, declared_roles

# the only routes anyone may call: probes, metrics (scraped inside the plant network) and the schema
PUBLIC = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def concrete(path: str) -> str:
    """A path with its parameters filled in: lines L1, numeric ids one that names nothing (no key is revoked)."""
    return re.sub(r"\{[^}]+\}", lambda m: "L1" if m.group(0) == "{line_id}" else "999999", path)


def protected_routes(client) -> list[tuple[str, str, tuple[str, ...]]]:
    """(method, path, roles) of every operation of the published schema but the public ones."""
    routes = app_routes()
    out = []
    for path, operations in client.get("/openapi.json").json()["paths"].items():
        for method in operations:
            route = routes.get((method.upper(), path))
            assert route is not None, f"{method} {path} is published but not a route of api.main.ROUTERS"
            if path in PUBLIC:
                assert declared_roles(route) is None
                continue
            roles = declared_roles(route)
            assert roles, f"{method} {path} declares no roles (Depends(Roles(...)))"
            out.append((method.upper(), path, roles))
    return out


def test_every_route_but_the_probes_declares_roles_and_is_published(client):
    routes = protected_routes(client)
    assert len(routes) >= 9
    published = {(m, p) for m, p, _ in routes}
    for method, path in app_routes():
        assert path in PUBLIC or (method, path) in published, f"{method} {path} is not in the schema"


def test_each_protected_route_refuses_every_other_role_and_missing_or_unknown_keys(app, client, keys):
    checked = 0
    for method, path, roles in protected_routes(client):
        url = concrete(path)
        for role in ROLES:
            if role in roles:
                continue
            r = client.request(method, url, headers=bearer(keys[role]), json={})
            assert r.status_code == 403, (method, path, role, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert role in r.json()["detail"]
            checked += 1
        for headers in ({}, bearer("alu_not-a-key"), {"Authorization": f"Basic {keys[roles[0]]}"}):
            r = client.request(method, url, headers=headers, json={})
            assert r.status_code == 401, (method, path, headers, r.text)
            assert r.headers["www-authenticate"] == "Bearer"
        # and a key of an allowed role gets past the role check (whatever the body's fate)
        r = client.request(method, url, headers=bearer(keys[roles[0]]), json={})
        assert r.status_code not in (401, 403), (method, path, r.text)
    assert checked >= 20


def test_the_line_stream_admits_controllers_only(app, client, keys):
    ws_routes = [r for router in ROUTERS for r in router.routes if isinstance(r, APIWebSocketRoute)]
    assert [r.path for r in ws_routes] == ["/v1/lines/{line_id}/stream"]
    for headers in ({}, bearer("alu_unknown"), *(bearer(keys[r]) for r in ROLES if r != "controller")):
        with pytest.raises(WebSocketDisconnect) as exc, client.websocket_connect("/v1/lines/L1/stream",
                                                                                 headers=headers):
            pass
        assert exc.value.code == 1008
    with client.websocket_connect("/v1/lines/L1/stream", headers=bearer(keys["controller"])) as ws:
        ws.send_text("{}")
        assert ws.receive_json()["problem"]["status"] == 422


def test_a_revoked_key_is_refused_from_the_next_request(client, keys):
    admin = bearer(keys["admin"])
    made = client.post("/v1/keys", headers=admin, json={"role": "quality", "name": "auditor"})
    assert made.status_code == 201
    key = made.json()["key"]
    assert client.get("/v1/pieces", params={"line_id": "L1"}, headers=bearer(key)).status_code == 200
    listed = client.get("/v1/keys", headers=admin).json()
    assert key not in str(listed) and made.json()["prefix"] in str(listed)
    assert client.delete(f"/v1/keys/{made.json()['id']}", headers=admin).status_code == 200
    assert client.get("/v1/pieces", params={"line_id": "L1"}, headers=bearer(key)).status_code == 401


def test_a_controller_key_bound_to_lines_may_not_use_another(client, keys):
    made = client.post("/v1/keys", headers=bearer(keys["admin"]), json={"role": "controller", "lines": ["L7"]})
    key = bearer(made.json()["key"])
    assert client.get("/v1/pieces", params={"line_id": "L7"}, headers=key).status_code == 200
    r = client.get("/v1/pieces", params={"line_id": "L8"}, headers=key)
    assert r.status_code == 403 and "L8" in r.json()["detail"]
