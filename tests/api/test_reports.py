"""Heat reports over the API: content checked against the recipe and hand sums, roles, approval
freezing and revisions, and the PDF rendered to an image (plot present, certificate page)."""

from __future__ import annotations

import csv
import io

import pytest

from blending.catalogue.materials import get_material
from blending.footprint import Energy
from tests.api.heats_support import csv_rows, started
from tests.api.support import bearer

RECIPE = {"alloy": "3104", "mass_kg": 20000, "confidence": 0.95, "draws": 1000, "seed": 3}
IN_SPEC = {"Si": 0.25, "Fe": 0.45, "Cu": 0.18, "Mn": 0.95, "Mg": 1.1, "Zn": 0.05, "Ti": 0.02, "Cr": 0.02}


@pytest.fixture(scope="module")
def heat(tmp_path_factory):
    """A charged heat with one analysis on SQLite: (client, keys, heat id, recipe JSON)."""
    client, keys = started(f"sqlite:///{tmp_path_factory.mktemp('reports') / 'r.db'}")
    eng = bearer(keys["engineer"])
    for row in csv_rows():
        assert client.post("/v1/inventory", headers=eng, json=row).status_code == 201
    made = client.post("/v1/recipes", headers=eng, json=RECIPE)
    assert made.status_code == 201, made.text
    recipe = made.json()
    h = client.post("/v1/heats", headers=eng, json={"recipe_id": made.headers["x-recipe-id"], "name": "H-TEST-1"})
    assert h.status_code == 201, h.text
    heat_id = h.json()["id"]
    assert client.post(f"/v1/heats/{heat_id}/analyses", headers=eng,
                       json={"composition_wt_pct": IN_SPEC}).status_code == 201
    yield client, keys, heat_id, recipe
    client.__exit__(None, None, None)


def test_the_report_agrees_with_the_recipe_and_a_hand_sum(heat):
    client, keys, heat_id, recipe = heat
    r = client.get(f"/v1/heats/{heat_id}/report", headers=bearer(keys["quality"]))
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["heat_number"] == "H-TEST-1" and rep["alloy"] == "3104"
    assert {c["material"]: c["mass_kg"] for c in rep["charge"]} == {
        line["material"]: line["mass_kg"] for line in recipe["recipe"]}
    # recycled content: the blender's own category shares, run-around left out
    by_cat = recipe["recycled_by_category"]
    claimed = by_cat.get("pre_consumer", 0) + by_cat.get("post_consumer", 0)
    assert rep["recycled_content"]["fraction"] == pytest.approx(claimed, abs=1e-6)
    # footprint by hand: sum of charged kg x the material's factor plus melting energy x gas
    cells = {row["material"]: row for row in csv_rows()}
    materials = 0.0
    for line in recipe["recipe"]:
        row = cells[line["material"]]
        f = float(row["co2e_kg_per_kg"]) if "co2e_kg_per_kg" in row else get_material(line["material"]).co2e_kg_per_kg
        materials += line["mass_kg"] * f
    gas = Energy.of_furnace("gas reverberatory")
    product_t = recipe["liquid_kg"] / 1000
    expected = (materials + gas.energy_kwh_per_t * product_t * gas.kg_co2e_per_kwh) / product_t
    assert rep["footprint"]["kg_co2e_per_t"] == pytest.approx(expected, rel=1e-9)
    # predicted chemistry is the recipe's; the one analysis is in spec, so is the verdict
    mn = next(c for c in rep["chemistry"] if c["name"] == "Mn")
    assert mn["predicted_wt_pct"] == pytest.approx(recipe["composition_wt_pct"]["Mn"])
    assert mn["measured_wt_pct"] == [IN_SPEC["Mn"]]
    assert rep["verdict"]["status"] == "in spec"
    assert rep["review"]["status"] == "pending" and rep["revision"] == 1


def test_roles_and_formats(heat):
    client, keys, heat_id, _ = heat
    for role in ("controller", "admin"):
        assert client.get(f"/v1/heats/{heat_id}/report", headers=bearer(keys[role])).status_code == 403
        assert client.post(f"/v1/heats/{heat_id}/approve", headers=bearer(keys[role]), json={}).status_code == 403
    assert client.post(f"/v1/heats/{heat_id}/approve", headers=bearer(keys["engineer"]), json={}).status_code == 403
    assert client.get("/v1/heats/999/report", headers=bearer(keys["quality"])).status_code == 404
    html = client.get(f"/v1/heats/{heat_id}/report.html", headers=bearer(keys["engineer"]))
    assert html.status_code == 200 and "<svg" in html.text and "EN 10204" in html.text
    rows = list(csv.DictReader(io.StringIO(client.get(f"/v1/heats/{heat_id}/report.csv",
                                                      headers=bearer(keys["quality"])).text)))
    measured = {r["limit"]: float(r["value_wt_pct"]) for r in rows if r["kind"] == "measured"}
    assert measured["Mg"] == IN_SPEC["Mg"]


def test_approval_freezes_the_report_and_a_change_makes_a_new_revision(heat):
    client, keys, heat_id, _ = heat
    q = bearer(keys["quality"])
    r = client.post(f"/v1/heats/{heat_id}/approve", headers=q, json={"comment": "chemistry fine"})
    assert r.status_code == 200, r.text
    first = client.get(f"/v1/heats/{heat_id}/report", headers=q).json()
    assert first["review"]["status"] == "approved" and first["review"]["frozen"]
    assert first["review"]["comment"] == "chemistry fine" and first["review"]["reviewer"] == "test quality"
    again = client.get(f"/v1/heats/{heat_id}/report", headers=q).json()
    assert again["built_at"] == first["built_at"]          # served from the store, not rebuilt
    for verb in ("approve", "reject"):                      # frozen: no second review of revision 1
        assert client.post(f"/v1/heats/{heat_id}/{verb}", headers=q, json={}).status_code == 409
    # a new analysis changes the heat: revision 2, pending; revision 1's approval stays in the trail
    assert client.post(f"/v1/heats/{heat_id}/analyses", headers=bearer(keys["engineer"]),
                       json={"composition_wt_pct": {**IN_SPEC, "Mg": 2.0}}).status_code == 201
    later = client.get(f"/v1/heats/{heat_id}/report", headers=q).json()
    assert later["revision"] == 2 and later["review"]["status"] == "pending"
    assert later["verdict"]["status"] == "out of spec"
    assert [(x["revision"], x["decision"]) for x in later["reviews"]] == [(1, "approved")]
    assert client.post(f"/v1/heats/{heat_id}/reject", headers=q, json={"comment": "Mg high"}).status_code == 200
    assert client.get(f"/v1/heats/{heat_id}/report", headers=q).json()["review"]["status"] == "rejected"


def test_the_pdf_renders_with_the_plot_and_the_certificate_page(heat, tmp_path):
    import pypdfium2 as pdfium

    client, keys, heat_id, _ = heat
    r = client.get(f"/v1/heats/{heat_id}/report.pdf", headers=bearer(keys["quality"]))
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    (tmp_path / "report.pdf").write_bytes(r.content)
    doc = pdfium.PdfDocument(r.content)
    assert len(doc) >= 2
    image = doc[0].render(scale=1.5).to_pil().convert("RGB")
    image.save(tmp_path / "page1.png")
    # the plot's limit bands are drawn in #cfe8cf: a page without the plot has none of that green
    band = sum(1 for px in image.getdata() if abs(px[0] - 0xcf) < 8 and abs(px[1] - 0xe8) < 8 and abs(px[2] - 0xcf) < 8)
    assert band > 2000, band
    texts = [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    assert "Heat report H-TEST-1" in texts[0]
    assert "EN 10204 type 3.1" in texts[-1] and "EN 10204" not in texts[0]
    # this revision is rejected and out of spec: the page must not declare conformity
    assert "Not valid as a certificate" in texts[-1] and "in compliance" not in texts[-1]


def test_the_heat_chooses_its_furnace_and_the_footprint_follows_it(heat):
    # a heat melted by induction on the EU grid: its footprint is its charge's material factors plus
    # 600 kWh/t x the grid factor (blending/data/emission_factors_melting.csv), summed here by hand
    client, keys, _, _ = heat
    eng, q = bearer(keys["engineer"]), bearer(keys["quality"])
    made = client.post("/v1/recipes", headers=eng, json={**RECIPE, "mass_kg": 4000})
    assert made.status_code == 201 and made.json()["status"] == "optimal", made.text
    bad = client.post("/v1/heats", headers=eng, json={"recipe_id": made.headers["x-recipe-id"], "furnace": "kiln"})
    assert bad.status_code == 422 and "furnace" in bad.text, bad.text
    h = client.post("/v1/heats", headers=eng, json={"recipe_id": made.headers["x-recipe-id"], "name": "H-IND",
                                                      "furnace": "electric induction"})
    assert h.status_code == 201, h.text
    assert h.json()["furnace"] == "electric induction"
    rep = client.get(f"/v1/heats/{h.json()['id']}/report", headers=q).json()
    assert rep["furnace"] == "electric induction"
    recipe = made.json()
    cells = {row["material"]: row for row in csv_rows()}
    materials = sum(line["mass_kg"] * (float(cells[line["material"]]["co2e_kg_per_kg"])
                                       if "co2e_kg_per_kg" in cells[line["material"]]
                                       else get_material(line["material"]).co2e_kg_per_kg)
                    for line in recipe["recipe"])
    power = Energy.of_furnace("electric induction")
    assert (power.carrier, power.energy_kwh_per_t) == ("grid electricity EU-27", 600.0)
    product_t = recipe["liquid_kg"] / 1000
    expected = (materials + power.energy_kwh_per_t * product_t * power.kg_co2e_per_kwh) / product_t
    assert rep["footprint"]["kg_co2e_per_t"] == pytest.approx(expected, rel=1e-9)
