"""The browser UI without a browser: sign-in, CSRF, roles, approval through the form, recipe page.
(tests/browser drives the same pages in Chromium.)"""

from __future__ import annotations

import re

import pytest

from api.main import create_app
from api.pages import session as cookies
from api.settings import load_settings
from tests.api.heats_support import csv_rows, started
from tests.api.support import bearer

RECIPE = {"alloy": "3104", "mass_kg": 20000, "confidence": 0.95, "draws": 1000, "seed": 3}


@pytest.fixture(scope="module")
def plant(tmp_path_factory):
    client, keys = started(f"sqlite:///{tmp_path_factory.mktemp('pages') / 'p.db'}")
    eng = bearer(keys["engineer"])
    for row in csv_rows():
        assert client.post("/v1/inventory", headers=eng, json=row).status_code == 201
    made = client.post("/v1/recipes", headers=eng, json=RECIPE)
    h = client.post("/v1/heats", headers=eng, json={"recipe_id": made.headers["x-recipe-id"], "name": "H-UI-7"})
    client.post(f"/v1/heats/{h.json()['id']}/analyses", headers=eng,
                json={"composition_wt_pct": {"Si": 0.25, "Fe": 0.45, "Cu": 0.18, "Mn": 0.95, "Mg": 1.1}})
    yield client, keys, h.json()["id"]
    client.__exit__(None, None, None)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]*)"', html).group(1)


def sign_in(client, key) -> tuple[int, str]:
    client.cookies.clear()
    page = client.get("/ui/login")
    r = client.post("/ui/login", data={"key": key, "csrf": csrf_of(page.text)}, follow_redirects=False)
    return r.status_code, r.text


def test_sign_in_roles_and_forged_cookies(plant):
    client, keys, _ = plant
    client.cookies.clear()
    assert client.get("/ui/heats", follow_redirects=False).headers["location"] == "/ui/login"
    for role in ("controller", "admin"):
        status, text = sign_in(client, keys[role])
        assert status == 403 and "cannot open the UI" in text
        assert client.get("/ui/heats", follow_redirects=False).status_code == 303
    assert sign_in(client, "alu_not_a_key")[0] == 401
    # a sign-in without the form's token is refused
    client.cookies.clear()
    client.get("/ui/login")
    assert client.post("/ui/login", data={"key": keys["quality"], "csrf": "x"}).status_code == 403
    # a forged session cookie (another key id, same body, wrong signature) is not a session
    value, _ = cookies.make(cookies.shared_secret(client.app.state.engine), 1)
    client.cookies.clear()
    client.cookies.set(cookies.COOKIE, value[:-2] + ("00" if value[-2:] != "00" else "11"))
    assert client.get("/ui/heats", follow_redirects=False).status_code == 303


def test_quality_approves_through_the_form_and_sees_it(plant):
    client, keys, heat_id = plant
    assert sign_in(client, keys["quality"])[0] == 303
    listing = client.get("/ui/heats?q=ui-7")
    assert "H-UI-7" in listing.text
    assert "H-UI-7" not in client.get("/ui/heats?q=nothing-like-it").text
    page = client.get(f"/ui/heats/{heat_id}")
    assert page.status_code == 200 and "<svg" in page.text and 'id="approve"' in page.text
    # without the CSRF token: refused, nothing recorded
    assert client.post(f"/ui/heats/{heat_id}/review", data={"decision": "approve"}).status_code == 403
    assert client.get(f"/v1/heats/{heat_id}/report", headers=bearer(keys["quality"])).json()["review"][
        "status"] == "pending"
    r = client.post(f"/ui/heats/{heat_id}/review", follow_redirects=True,
                    data={"decision": "approve", "comment": "looks right", "csrf": csrf_of(page.text)})
    assert r.status_code == 200 and "looks right" in r.text
    rep = client.get(f"/v1/heats/{heat_id}/report", headers=bearer(keys["quality"])).json()
    assert rep["review"]["status"] == "approved" and rep["review"]["reviewer"] == "test quality"
    frozen_page = client.get(f"/ui/heats/{heat_id}")
    assert 'id="approve"' not in frozen_page.text            # an approved revision takes no second review
    again = client.post(f"/ui/heats/{heat_id}/review", data={"decision": "reject", "csrf": csrf_of(page.text)})
    assert again.status_code == 409 and "frozen" in again.text
    pdf = client.get(f"/ui/heats/{heat_id}/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_engineer_plans_a_recipe_and_may_not_review(plant):
    client, keys, heat_id = plant
    assert sign_in(client, keys["engineer"])[0] == 303
    page = client.get("/ui/recipes")
    token = csrf_of(page.text)
    r = client.post("/ui/recipes", data={"alloy": "3104", "mass_kg": "4000", "confidence": "0.95", "csrf": token})
    assert r.status_code == 200, r.text
    assert "optimal" in r.text and "<svg" in r.text and 'id="pareto-plot"' not in r.text
    with_front = client.post("/ui/recipes", data={"alloy": "3104", "mass_kg": "4000", "confidence": "0.95",
                                                  "pareto": "1", "csrf": token})
    assert with_front.status_code == 200 and 'id="pareto-plot"' in with_front.text
    assert with_front.text.count("<svg") >= 2
    bad = client.post("/ui/recipes", data={"alloy": "3104", "mass_kg": "-5", "confidence": "0.95", "csrf": token})
    assert bad.status_code == 422 and "mass_kg" in bad.text
    heat_page = client.get(f"/ui/heats/{heat_id}")
    assert 'id="approve"' not in heat_page.text
    refused = client.post(f"/ui/heats/{heat_id}/review", data={"decision": "approve", "csrf": token})
    assert refused.status_code == 403


def test_a_session_made_by_one_worker_is_good_on_another(plant, monkeypatch):
    # two app instances on one database stand for two workers (or hosts): no secret in process memory
    monkeypatch.delenv("ALULOOP_UI_SECRET", raising=False)
    client, keys, _ = plant
    assert sign_in(client, keys["quality"])[0] == 303
    session = client.cookies.get(cookies.COOKIE)
    other = create_app(load_settings(database_url=str(client.app.state.engine.url)))
    from fastapi.testclient import TestClient
    with TestClient(other) as second:
        second.cookies.set(cookies.COOKIE, session)
        assert second.get("/ui/heats", follow_redirects=False).status_code == 200
        second.cookies.set(cookies.COOKIE, session[:-2] + ("00" if session[-2:] != "00" else "11"))
        assert second.get("/ui/heats", follow_redirects=False).status_code == 303
