"""/v1/inventory: rows are read by the same library reader as the CSV, names are unique, stock never
goes negative, and every change is an audit event (who, when, what)."""

from __future__ import annotations

import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from api.db.tables import Event
from api.services import inventory as inventory_service
from blending.catalogue.tables import read_rows
from blending.errors import InputError
from blending.lot import lot_from_row
from tests.api.heats_support import BACKENDS, database_url, started
from tests.api.support import bearer

OWN = {"material": "sorted 5xxx lot", "available_kg": 1200, "recycled": "post_consumer", "yield": 0.93,
       "cost_per_kg": 1.9, "co2e_kg_per_kg": 0.3, "Mg": 2.6, "Mn": 0.3, "sd_Mg": 0.05}


def test_a_row_is_read_as_the_inventory_csv_reads_it(client, keys):
    eng = bearer(keys["engineer"])
    r = client.post("/v1/inventory", headers=eng, json=OWN)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"/v1/inventory/{r.json()['id']}"
    assert r.json()["row"]["Mg"] == "2.6" and r.json()["available_kg"] == 1200
    for bad, field in (({**OWN, "material": "x", "Mg": -0.2}, "Mg"), ({**OWN, "material": "y", "yield": 0}, "yield"),
                       ({**OWN, "material": "z", "colour": "red"}, "colour"),
                       ({"material": "not in the catalogue", "available_kg": 5}, "material"),
                       ({"material": "UBC", "available_kg": -1}, "available_kg")):
        r = client.post("/v1/inventory", headers=eng, json=bad)
        assert r.status_code == 422, (bad, r.text)
        assert field in r.json()["detail"], r.json()
    assert client.post("/v1/inventory", headers=eng, json={"available_kg": 5}).status_code == 422
    assert client.post("/v1/inventory", headers=bearer(keys["quality"]), json=OWN).status_code == 403


def test_a_material_is_registered_once(client, keys):
    eng = bearer(keys["engineer"])
    assert client.post("/v1/inventory", headers=eng, json={"material": "UBC", "available_kg": 10}).status_code == 201
    again = client.post("/v1/inventory", headers=eng, json={"material": "ubc", "available_kg": 10})
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    assert len(client.get("/v1/inventory", headers=eng).json()["items"]) == 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mg=st.one_of(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e3, max_value=1e3),
                    st.text(max_size=8)),
       kg=st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9)))
def test_the_service_accepts_exactly_the_rows_the_csv_reader_accepts(client, keys, mg, kg):
    row = {**OWN, "material": f"lot {abs(hash((mg, kg)))}", "Mg": mg, "available_kg": kg}
    cells = {k: "" if v is None else (repr(v) if isinstance(v, float) else str(v)) for k, v in row.items()}
    text = ",".join(cells) + "\n" + ",".join('"' + c.replace('"', '""') + '"' for c in cells.values()) + "\n"
    try:
        lot_from_row(next(read_rows(text, "inventory.csv")))
        expected = 201
    except (InputError, StopIteration):
        expected = 422
    r = client.post("/v1/inventory", headers=bearer(keys["engineer"]), json=row)
    assert r.status_code in (expected, 409 if expected == 201 else expected), (row, r.text)


@pytest.fixture(params=BACKENDS)
def service(request, tmp_path):
    client, keys = started(database_url(request, tmp_path))
    yield client, keys
    client.__exit__(None, None, None)


def test_two_heats_racing_for_the_last_stock_cannot_both_have_it(service):
    """Two recipes each need most of the one limited lot; charged at once from two threads, one heat
    gets it and the other is refused, and the stock left is the first charge's remainder."""
    client, keys = service
    eng = bearer(keys["engineer"])
    for row in ({"material": "UBC", "available_kg": 15000}, {"material": "P1020"}, {"material": "Mn 75 tablets"},
                {"material": "Mg ingot"}):
        assert client.post("/v1/inventory", headers=eng, json=row).status_code == 201
    body = {"alloy": "3104", "mass_kg": 12000, "draws": 1000}
    recipes = [client.post("/v1/recipes", headers=eng, json=body) for _ in range(2)]
    ubc = [next(ln["mass_kg"] for ln in r.json()["recipe"] if ln["material"] == "UBC") for r in recipes]
    assert ubc[0] > 7500 and ubc[1] > 7500, ubc   # the two cannot both be charged from 15,000 kg
    answers: list = [None, None]
    start = threading.Barrier(2)

    def charge(i: int) -> None:
        start.wait()
        answers[i] = client.post("/v1/heats", headers=eng, json={"recipe_id": recipes[i].headers["x-recipe-id"]})

    threads = [threading.Thread(target=charge, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(a.status_code for a in answers)
    assert codes == [201, 409], [a.text for a in answers]
    won = next(i for i, a in enumerate(answers) if a.status_code == 201)
    left = {i["material"]: i["available_kg"] for i in client.get("/v1/inventory", headers=eng).json()["items"]}
    assert left["UBC"] == pytest.approx(15000 - ubc[won], abs=1e-6)

    app = client.app
    with app.state.sessions() as session:
        events = session.scalars(select(Event).order_by(Event.id)).all()
    actions = [(e.subject, e.action) for e in events]
    assert actions.count(("heat", "charged")) == 1 and actions.count(("recipe", "planned")) == 2
    assert ("inventory", "registered") in actions and ("inventory", "charged") in actions
    assert all(e.key_id is not None and e.at is not None for e in events)


def test_two_registrations_of_one_name_in_two_cases_at_once_keep_one(service, monkeypatch):
    """``UBC`` and ``ubc`` registered at once. Each request is held after its INSERT until the other
    gets there too (or 1 s passes): a check that only reads before inserting lets both through (the
    unique key is case-sensitive); the name lock (PostgreSQL) or the write lock (SQLite) must not."""
    client, keys = service
    eng = bearer(keys["engineer"])
    meet = threading.Barrier(2, timeout=1.0)
    plain = inventory_service.record

    def held(session, key_id, subject, subject_id, action, **detail):
        if action == "registered":
            try:
                meet.wait()
            except threading.BrokenBarrierError:
                pass   # the other request waits for the lock: the serialised case
        return plain(session, key_id, subject, subject_id, action, **detail)

    monkeypatch.setattr(inventory_service, "record", held)
    answers: list = [None, None]

    def register(i: int) -> None:
        name = ("Sorted 5XXX", "sorted 5xxx")[i]
        answers[i] = client.post("/v1/inventory", headers=eng, json={**OWN, "material": name})

    threads = [threading.Thread(target=register, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    assert [i["material"].lower() for i in client.get("/v1/inventory", headers=eng).json()["items"]] == ["sorted 5xxx"]
