"""Inventory, recipes and the heat life cycle over the API, on SQLite and PostgreSQL.

The recipe is checked against ``aluloop blend --json`` run on the same inventory CSV (an
independent path: the CLI reads the file, the service its stored rows); stock levels against the
registered amounts less the recipe's charge, computed here.
"""

from __future__ import annotations

import json
import math
import threading

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from aluloop.cli import app as cli
from api.db.tables import InventoryItem
from api.services import heats as heats_service
from api.services.inventory import withdraw
from tests.api.heats_support import BACKENDS, UBC_INVENTORY, csv_rows, database_url, started
from tests.api.support import bearer

DRAWS = 2000
RECIPE = {"alloy": "3104", "mass_kg": 20000, "confidence": 0.95, "draws": DRAWS, "seed": 3}


@pytest.fixture(params=BACKENDS)
def service(request, tmp_path):
    client, keys = started(database_url(request, tmp_path))
    yield client, keys
    client.__exit__(None, None, None)


def register_ubc(client, key) -> dict[str, float | None]:
    stock = {}
    for row in csv_rows():
        r = client.post("/v1/inventory", headers=bearer(key), json=row)
        assert r.status_code == 201, r.text
        stock[row["material"]] = float(row["available_kg"]) if "available_kg" in row else None
        assert r.json()["available_kg"] == stock[row["material"]]
    return stock


def assert_same(a, b, path="") -> None:
    """Equal JSON, numbers to 1e-9 (relative or absolute)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), (path, a, b)
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), (path, a, b)
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (path, a, b)
    else:
        assert a == b, (path, a, b)


def cli_blend(inventory, *extra: str) -> dict:
    out = CliRunner().invoke(cli, ["blend", "--alloy", "3104", "--mass-kg", "20000", "--inventory", str(inventory),
                                   "--confidence", "0.95", "--draws", str(DRAWS), "--seed", "3", "--json", *extra])
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


def test_a_recipe_over_the_api_equals_aluloop_blend_on_the_same_inventory(service):
    client, keys = service
    register_ubc(client, keys["engineer"])
    r = client.post("/v1/recipes", headers=bearer(keys["engineer"]), json=RECIPE)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "optimal"
    assert_same(r.json(), cli_blend(UBC_INVENTORY))
    # the stored recipe is the same document
    stored = client.get(r.headers["location"], headers=bearer(keys["engineer"]))
    assert stored.json() == r.json()


def test_the_heat_life_cycle_with_roles_stock_and_a_refused_second_close(service):
    client, keys = service
    eng, quality, controller = (bearer(keys[r]) for r in ("engineer", "quality", "controller"))
    stock = register_ubc(client, keys["engineer"])
    assert client.post("/v1/recipes", headers=quality, json=RECIPE).status_code == 403
    made = client.post("/v1/recipes", headers=eng, json=RECIPE)
    recipe_id = made.headers["x-recipe-id"]
    charge = {line["material"]: line["mass_kg"] for line in made.json()["recipe"]}

    assert client.post("/v1/heats", headers=quality, json={"recipe_id": recipe_id}).status_code == 403
    heat = client.post("/v1/heats", headers=eng, json={"recipe_id": recipe_id, "name": "H1"})
    assert heat.status_code == 201, heat.text
    heat_id = heat.json()["id"]
    assert heat.json()["status"] == "charged"
    # the same recipe does not charge a second heat, and takes nothing twice
    again = client.post("/v1/heats", headers=eng, json={"recipe_id": recipe_id})
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"

    left = {i["material"]: i["available_kg"] for i in client.get("/v1/inventory", headers=eng).json()["items"]}
    for material, before in stock.items():
        expected = None if before is None else before - charge.get(material, 0.0)
        assert left[material] == pytest.approx(expected, abs=1e-6), material

    bad = client.post(f"/v1/heats/{heat_id}/analyses", headers=eng, json={"composition_wt_pct": {"Mg": 120}})
    assert bad.status_code == 422
    analysis = client.post(f"/v1/heats/{heat_id}/analyses", headers=eng,
                           json={"composition_wt_pct": {"Si": 0.25, "Fe": 0.45, "Cu": 0.18, "Mn": 0.75,
                                                        "Mg": 1.0, "Zn": 0.06, "Ti": 0.02, "Cr": 0.02}})
    assert analysis.status_code == 201, analysis.text
    assert client.post(f"/v1/heats/{heat_id}/analyses", headers=quality,
                       json={"composition_wt_pct": {"Mg": 1}}).status_code == 403
    trim = client.post(f"/v1/heats/{heat_id}/trim", headers=eng, json={"capacity_kg": 30000, "draws": DRAWS})
    assert trim.status_code == 201, trim.text
    assert trim.json()["analysis_id"] == analysis.json()["id"]
    assert trim.json()["result"]["spec"] == "3104"

    seen = client.get(f"/v1/heats/{heat_id}", headers=quality)
    assert seen.status_code == 200
    assert [a["id"] for a in seen.json()["analyses"]] == [analysis.json()["id"]]
    assert client.get(f"/v1/heats/{heat_id}", headers=controller).status_code == 403

    assert client.post(f"/v1/heats/{heat_id}/close", headers=quality).status_code == 403
    closed = client.post(f"/v1/heats/{heat_id}/close", headers=eng)
    assert closed.status_code == 200 and closed.json()["status"] == "closed" and closed.json()["closed_at"]
    second = client.post(f"/v1/heats/{heat_id}/close", headers=eng)
    assert second.status_code == 409 and "closed" in second.json()["detail"]
    assert client.post(f"/v1/heats/{heat_id}/analyses", headers=eng,
                       json={"composition_wt_pct": {"Mg": 1}}).status_code == 409
    history = client.get(f"/v1/heats/{heat_id}", headers=quality).json()["events"]
    assert [e["action"] for e in history] == ["charged", "analysed", "trimmed", "closed"]
    engineer_ids = {str(k["id"]) for k in client.get("/v1/keys", headers=bearer(keys["admin"])).json()
                    if k["role"] == "engineer"}
    assert len(engineer_ids) == 1 and {e["key_id"] for e in history} == engineer_ids
    # stock is as it was after the charge (analyses, trims and closing take nothing)
    after = {i["material"]: i["available_kg"] for i in client.get("/v1/inventory", headers=eng).json()["items"]}
    assert after == left


def test_a_charge_the_stock_no_longer_holds_is_refused_and_takes_nothing(service):
    client, keys = service
    eng = bearer(keys["engineer"])
    register_ubc(client, keys["engineer"])
    first = client.post("/v1/recipes", headers=eng, json=RECIPE).headers["x-recipe-id"]
    second = client.post("/v1/recipes", headers=eng, json=RECIPE).headers["x-recipe-id"]
    assert client.post("/v1/heats", headers=eng, json={"recipe_id": first}).status_code == 201
    before = client.get("/v1/inventory", headers=eng).json()
    r = client.post("/v1/heats", headers=eng, json={"recipe_id": second})
    assert r.status_code == 409, r.text
    assert "left" in r.json()["detail"]
    assert client.get("/v1/inventory", headers=eng).json() == before
    assert all(i["available_kg"] is None or i["available_kg"] >= 0 for i in before["items"])
    assert client.get("/v1/heats", headers=eng).json()["items"][0]["recipe_id"] == first
    assert len(client.get("/v1/heats", headers=eng).json()["items"]) == 1


def test_an_infeasible_recipe_is_stored_but_charges_no_heat(client, keys):
    eng = bearer(keys["engineer"])
    client.post("/v1/inventory", headers=eng, json={"material": "UBC", "available_kg": 1000})
    r = client.post("/v1/recipes", headers=eng, json={**RECIPE, "alloy": "5182"})
    assert r.status_code == 201 and r.json()["status"] == "infeasible"
    heat = client.post("/v1/heats", headers=eng, json={"recipe_id": r.headers["x-recipe-id"]})
    assert heat.status_code == 409 and "infeasible" in heat.json()["detail"]


LOW_MG = {"Si": 0.25, "Fe": 0.45, "Cu": 0.18, "Mn": 0.75, "Mg": 0.7, "Zn": 0.06, "Ti": 0.02, "Cr": 0.02}
HARDENER_KG = 400.0   # Mn tablets and Mg ingot on hand (the CSV buys them to order)


def heat_with_a_trim(client, eng) -> tuple[str, dict, dict[str, float | None]]:
    """A charged heat whose melt is low in Mg and Mn, its trim (with additions), and the stock before it."""
    for row in csv_rows():
        if row["material"] in ("Mn 75 tablets", "Mg ingot"):
            row["available_kg"] = str(HARDENER_KG)
        assert client.post("/v1/inventory", headers=eng, json=row).status_code == 201
    recipe = client.post("/v1/recipes", headers=eng, json=RECIPE).headers["x-recipe-id"]
    heat_id = client.post("/v1/heats", headers=eng, json={"recipe_id": recipe}).json()["id"]
    assert client.post(f"/v1/heats/{heat_id}/analyses", headers=eng,
                       json={"composition_wt_pct": LOW_MG}).status_code == 201
    trim = client.post(f"/v1/heats/{heat_id}/trim", headers=eng, json={"capacity_kg": 30000, "draws": DRAWS})
    assert trim.status_code == 201, trim.text
    assert trim.json()["applied_at"] is None
    stock = {i["material"]: i["available_kg"] for i in client.get("/v1/inventory", headers=eng).json()["items"]}
    return heat_id, trim.json(), stock


def heat_recipe(client, eng, heat_id) -> str:
    return client.get(f"/v1/heats/{heat_id}", headers=eng).json()["recipe_id"]


def stock_of(client, eng) -> dict[str, float | None]:
    return {i["material"]: i["available_kg"] for i in client.get("/v1/inventory", headers=eng).json()["items"]}


def test_an_applied_trim_takes_its_additions_off_the_stock_once(service):
    client, keys = service
    eng, quality = bearer(keys["engineer"]), bearer(keys["quality"])
    heat_id, trim, before = heat_with_a_trim(client, eng)
    additions = {ln["material"]: ln["mass_kg"] for ln in trim["result"]["additions"]["recipe"] if ln["mass_kg"] > 0}
    assert {"Mn 75 tablets", "Mg ingot"} <= set(additions), additions
    url = f"/v1/heats/{heat_id}/trims/{trim['id']}/apply"

    assert client.post(url, headers=quality).status_code == 403
    assert client.post(f"/v1/heats/{heat_id}/trims/999999/apply", headers=eng).status_code == 404
    assert stock_of(client, eng) == before   # a trim is advice until applied
    applied = client.post(url, headers=eng)
    assert applied.status_code == 200, applied.text
    assert applied.json()["trims"][0]["applied_at"]
    after = stock_of(client, eng)
    for material, kg in before.items():
        expected = None if kg is None else kg - additions.get(material, 0.0)
        assert after[material] == pytest.approx(expected, abs=1e-6), material
    again = client.post(url, headers=eng)
    assert again.status_code == 409 and "applied already" in again.json()["detail"]
    assert stock_of(client, eng) == after
    actions = [e["action"] for e in client.get(f"/v1/heats/{heat_id}", headers=eng).json()["events"]]
    assert actions == ["charged", "analysed", "trimmed", "trim_applied"]
    # the next trim starts from the melt with the additions in it
    assert trim["result"]["melt_kg"] == pytest.approx(client.get("/v1/recipes/" + heat_recipe(client, eng, heat_id),
                                                                 headers=eng).json()["liquid_kg"], rel=1e-12)
    next_trim = client.post(f"/v1/heats/{heat_id}/trim", headers=eng, json={"capacity_kg": 30000, "draws": DRAWS})
    assert next_trim.status_code == 201, next_trim.text
    assert next_trim.json()["result"]["melt_kg"] == pytest.approx(trim["result"]["additions"]["liquid_kg"], rel=1e-12)


def test_a_trim_the_stock_no_longer_holds_or_of_a_closed_heat_takes_nothing(service):
    client, keys = service
    eng = bearer(keys["engineer"])
    heat_id, trim, before = heat_with_a_trim(client, eng)
    with client.app.state.sessions() as session:   # someone else took most of the Mg ingot meanwhile
        session.execute(update(InventoryItem).where(InventoryItem.material == "Mg ingot").values(available_kg=1.0))
        session.commit()
    short = client.post(f"/v1/heats/{heat_id}/trims/{trim['id']}/apply", headers=eng)
    assert short.status_code == 409 and "Mg ingot" in short.json()["detail"], short.text
    assert stock_of(client, eng) == {**before, "Mg ingot": 1.0}   # the Mn tablets were not taken either
    assert client.post(f"/v1/heats/{heat_id}/close", headers=eng).status_code == 200
    with client.app.state.sessions() as session:
        session.execute(update(InventoryItem).where(InventoryItem.material == "Mg ingot")
                        .values(available_kg=HARDENER_KG))
        session.commit()
    closed = client.post(f"/v1/heats/{heat_id}/trims/{trim['id']}/apply", headers=eng)
    assert closed.status_code == 409 and "closed" in closed.json()["detail"]
    assert stock_of(client, eng) == {**before, "Mg ingot": HARDENER_KG}


def test_two_applications_of_one_trim_at_once_take_it_once(service, monkeypatch):
    """Both requests are held just before taking the stock until the other arrives there too (or 1 s
    passes): without the heat's row lock both get there having seen the trim unapplied, and both take it."""
    client, keys = service
    eng = bearer(keys["engineer"])
    heat_id, trim, before = heat_with_a_trim(client, eng)
    meet = threading.Barrier(2, timeout=1.0)

    def held(*args, **kwargs):
        try:
            meet.wait()
        except threading.BrokenBarrierError:
            pass   # the other request is waiting for the lock: the serialised case
        return withdraw(*args, **kwargs)

    monkeypatch.setattr(heats_service, "withdraw", held)
    additions = {ln["material"]: ln["mass_kg"] for ln in trim["result"]["additions"]["recipe"] if ln["mass_kg"] > 0}
    answers: list = [None, None]
    start = threading.Barrier(2)

    def apply(i: int) -> None:
        start.wait()
        answers[i] = client.post(f"/v1/heats/{heat_id}/trims/{trim['id']}/apply", headers=eng)

    threads = [threading.Thread(target=apply, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    after = stock_of(client, eng)
    for material, kg in additions.items():
        assert after[material] == pytest.approx(before[material] - kg, abs=1e-6), material
