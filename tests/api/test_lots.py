"""Lots over the service: pieces join their bin's open lot, lots close by count, mass or request,
a closed lot's chemistry is the mass-weighted mean of its pieces with the sd of that mean, and it
enters the inventory (and ``aluloop lots export --csv``) as a row ``aluloop blend`` reads.

Expected figures are computed here from the classify answers (the pieces' estimates and
intervals), not read from the service's own arithmetic.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from aluloop.cli import app as cli
from api.db.engine import MIGRATIONS, make_engine, upgrade
from tests.api.heats_support import BACKENDS, database_url, started
from tests.api.support import bearer, piece_body, sample

RULES = {"lot_close_pieces": 4, "piece_mass_kg": 1.5, "lot_material": "old mixed sheet"}


@pytest.fixture(params=BACKENDS)
def service(request, tmp_path):
    url = database_url(request, tmp_path)
    client, keys = started(url)
    yield client, keys, url
    client.__exit__(None, None, None)


def classify(client, key, pieces: list[tuple[str, str, float | None]]) -> list[dict]:
    """(piece id, grade of the sample spectrum, mass or None) -> the answers."""
    body = {"pieces": [piece_body(sample(g), pid, **({} if m is None else {"mass_kg": m})) for pid, g, m in pieces]}
    r = client.post("/v1/pieces/classify/batch", headers=bearer(key), json=body)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def expected_chemistry(answers: list[dict], masses: list[float], figures: dict) -> tuple[dict, dict]:
    """By hand, from the answers and the model card's error figures: the mass-weighted mean of the
    bias-corrected estimates [wt%], and its sd: the random part (the card's per-grade sd, else the
    piece's 90% interval) summed in quadrature with weights, the shared part summed linearly over
    the grade shares."""
    z90 = NormalDist().inv_cdf(0.95)
    total = sum(masses)
    mean, var, share = {}, {}, {}
    for a, m in zip(answers, masses, strict=True):
        g, w = a["grade"], m / total
        share[g] = share.get(g, 0.0) + w
        for e, v in a["composition_wt_pct"].items():
            lo, hi = a["composition_interval_wt_pct"][e]
            sd = figures["random_sd_wt_pct"].get(g, {}).get(e, max(hi - v, v - lo) / z90)
            mean[e] = mean.get(e, 0.0) + w * (v - figures["bias_wt_pct"].get(g, {}).get(e, 0.0))
            var[e] = var.get(e, 0.0) + (w * sd) ** 2
    shared = {e: sum(s * figures["sd_wt_pct"].get(g, {}).get(e, 0.0) for g, s in share.items()) for e in mean}
    return {e: max(v, 0.0) for e, v in mean.items()}, {e: math.hypot(math.sqrt(var[e]), shared[e]) for e in mean}


def test_pieces_gather_into_a_lot_that_closes_at_its_count_and_enters_the_inventory(service):
    client, keys, url = service
    ctl, eng, quality = (bearer(keys[r]) for r in ("controller", "engineer", "quality"))
    assert client.put("/v1/lines/L1/rules", headers=bearer(keys["admin"]), json=RULES).status_code == 200
    first = classify(client, keys["controller"], [("p1", "3003", 2.0), ("p2", "3104", 3.0), ("p3", "3104", None)])
    assert {a["bin"] for a in first} == {"3xxx"}
    lots = client.get("/v1/lots", headers=quality, params={"line_id": "L1"}).json()["items"]
    assert [(lot["status"], lot["piece_count"], lot["mass_kg"]) for lot in lots] == [("open", 3, 6.5)]
    # a replayed piece joins nothing twice
    classify(client, keys["controller"], [("p2", "3104", 3.0)])
    assert client.get(f"/v1/lots/{lots[0]['id']}", headers=quality).json()["piece_count"] == 3

    last = classify(client, keys["controller"], [("p4", "3003", 0.5)])
    lot = client.get(f"/v1/lots/{lots[0]['id']}", headers=eng).json()
    assert lot["status"] == "closed" and lot["close_rule"] == "count" and lot["piece_count"] == 4
    model = first[0]["model"]["name"]
    figures = client.app.state.sorter.cards[model][1].lot_error()
    assert figures["sd_wt_pct"].get("3104"), "the bundled card states its shared error"
    mean, sd = expected_chemistry(first + last, [2.0, 3.0, 1.5, 0.5], figures)
    chem = lot["chemistry"]
    assert chem["mass_kg"] == pytest.approx(7.0)
    assert chem["grade_mix"] == pytest.approx({"3003": 2.5 / 7, "3104": 4.5 / 7})
    for e in mean:
        assert chem["mean_wt_pct"][e] == pytest.approx(mean[e], rel=1e-9, abs=1e-12), e
        assert chem["sd_of_mean_wt_pct"][e] == pytest.approx(sd[e], rel=1e-9, abs=1e-12), e

    item = client.get(f"/v1/inventory/{lot['inventory_item_id']}", headers=eng).json()
    assert item["lot_id"] == lot["id"] and item["available_kg"] == pytest.approx(7.0)
    assert item["row"]["yield"] and item["row"]["recycled"]
    # the next piece of the bin opens a new lot, which an engineer closes on request
    classify(client, keys["controller"], [("p5", "3104", 4.0)])
    fresh = client.get("/v1/lots", headers=eng, params={"status": "open"}).json()["items"]
    assert len(fresh) == 1 and fresh[0]["id"] != lot["id"]
    assert client.post(f"/v1/lots/{fresh[0]['id']}/close", headers=quality).status_code == 403
    assert client.post(f"/v1/lots/{fresh[0]['id']}/close", headers=ctl).status_code == 403
    closed = client.post(f"/v1/lots/{fresh[0]['id']}/close", headers=eng)
    assert closed.status_code == 200 and closed.json()["close_rule"] == "request"
    again = client.post(f"/v1/lots/{fresh[0]['id']}/close", headers=eng)
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    assert client.post("/v1/lots/999999/close", headers=eng).status_code == 404


def test_a_line_closes_lots_by_mass_and_unweighed_pieces_join_none(client, keys):
    admin = bearer(keys["admin"])
    client.put("/v1/lines/L1/rules", headers=admin, json={"lot_close_mass_kg": 10.0})
    classify(client, keys["controller"], [("a", "3104", None), ("b", "3104", 6.0)])
    lots = client.get("/v1/lots", headers=bearer(keys["engineer"])).json()["items"]
    assert [(lot["piece_count"], lot["status"]) for lot in lots] == [(1, "open")]
    classify(client, keys["controller"], [("c", "3104", 4.0)])
    lot = client.get("/v1/lots", headers=bearer(keys["engineer"])).json()["items"][0]
    assert (lot["status"], lot["close_rule"], lot["mass_kg"]) == ("closed", "mass", 10.0)


def test_closed_lots_export_as_an_inventory_that_aluloop_blend_reads(service, tmp_path, monkeypatch):
    client, keys, url = service
    client.put("/v1/lines/L1/rules", headers=bearer(keys["admin"]), json=RULES)
    for batch in range(2):   # a batch joins its lot whole, so two batches of four make two lots
        classify(client, keys["controller"], [(f"p{batch}{i}", g, 400.0) for i, g in enumerate(["3104", "3003"] * 2)])
    monkeypatch.setenv("ALULOOP_DATABASE_URL", url)
    out = CliRunner().invoke(cli, ["lots", "export", "--csv"])
    assert out.exit_code == 0, out.output
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("material,available_kg")   # two lots of 4 pieces
    inventory = tmp_path / "lots.csv"
    inventory.write_text(out.stdout + "P1020,\nMn 75 tablets,\nMg ingot,\n")
    blend = CliRunner().invoke(cli, ["blend", "--alloy", "3104", "--mass-kg", "2000", "--inventory", str(inventory),
                                     "--draws", "1000", "--json"])
    assert blend.exit_code in (0, 1), blend.output   # read and planned (feasible or not), never an input error
    assert '"status"' in blend.stdout


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_older_database_with_piece_records_is_upgraded_and_keeps_them(backend, request, tmp_path):
    from alembic import command
    from alembic.config import Config

    url = f"sqlite:///{tmp_path / 'old.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(text("INSERT INTO piece_records (line_id, piece_id, state, decision, bin, received_at, "
                                "result) VALUES ('L1', 'old', 'ok', 'accept', '3xxx', '2026-12-01 00:00:00', '{}')"))
    upgrade(engine)
    engine.dispose()
    with make_engine(url).connect() as c:
        assert c.execute(text("SELECT piece_id FROM piece_records")).scalars().all() == ["old"]
        assert c.execute(text("SELECT version_num FROM alembic_version")).scalar() >= "0002"   # later ones move on
        assert c.execute(text("SELECT count(*) FROM lots")).scalar() == 0
    # the upgraded database serves: a new piece joins a lot beside the old record
    client, keys = started(url)
    try:
        client.put("/v1/lines/L1/rules", headers=bearer(keys["admin"]), json=RULES)
        classify(client, keys["controller"], [("new", "3104", 1.0)])
        assert client.get("/v1/lots", headers=bearer(keys["quality"])).json()["items"][0]["piece_count"] == 1
    finally:
        client.__exit__(None, None, None)


def test_a_lot_the_library_cannot_close_stays_open_and_the_pieces_are_recorded(client, keys, monkeypatch):
    import api.services.lots as lots_service
    from blending.errors import InputError

    real = lots_service.lot_chemistry

    def refuse(*args, **kwargs):
        raise InputError("lot x: piece 1 has no Mg estimate and no prior was given")

    client.put("/v1/lines/L1/rules", headers=bearer(keys["admin"]), json={"lot_close_pieces": 2})
    monkeypatch.setattr(lots_service, "lot_chemistry", refuse)
    answers = classify(client, keys["controller"], [("a", "3104", 1.0), ("b", "3104", 1.0)])
    assert [a["replayed"] for a in answers] == [False, False]
    lot = client.get("/v1/lots", headers=bearer(keys["engineer"])).json()["items"][0]
    assert (lot["status"], lot["piece_count"]) == ("open", 2)
    pieces = client.get("/v1/pieces", headers=bearer(keys["quality"]), params={"line_id": "L1"}).json()["items"]
    assert [p["piece_id"] for p in pieces] == ["a", "b"]
    monkeypatch.setattr(lots_service, "lot_chemistry", real)
    classify(client, keys["controller"], [("c", "3104", 1.0)])
    lot = client.get(f"/v1/lots/{lot['id']}", headers=bearer(keys["engineer"])).json()
    assert (lot["status"], lot["piece_count"]) == ("closed", 3)
