"""Recipes with custom limits and campaign plans as jobs, each checked against the CLI on the same files."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from aluloop.cli import app as cli
from tests.api.heats_support import csv_rows
from tests.api.support import ROOT, bearer
from tests.api.test_heats import assert_same

CAMPAIGN_INVENTORY = ROOT / "examples" / "campaign_inventory.csv"
SCHEDULE = ROOT / "examples" / "campaign_schedule.csv"
LIMITS = ROOT / "examples" / "limits_custom.csv"
SHEET_INVENTORY = ROOT / "examples" / "old_sheet_5052_inventory.csv"


def register(client, key, path) -> None:
    for row in csv_rows(path):
        assert client.post("/v1/inventory", headers=bearer(key), json=row).status_code == 201


def test_a_recipe_to_custom_limits_equals_aluloop_blend_with_the_limits_file(client, keys, tmp_path):
    eng = bearer(keys["engineer"])
    register(client, keys["engineer"], SHEET_INVENTORY)
    limits = [{"element": r["element"], "min_wt_pct": float(r["min"]) if r.get("min") else None,
               "max_wt_pct": float(r["max"]) if r.get("max") else None} for r in csv_rows(LIMITS)]
    body = {"limits": limits, "mass_kg": 10000, "objective": "cost", "heel_kg": 2000,
            "heel_composition_wt_pct": {"Mg": 2.4, "Cr": 0.2}, "draws": 1000, "seed": 5}
    r = client.post("/v1/recipes", headers=eng, json=body)
    assert r.status_code == 201, r.text
    out = CliRunner().invoke(cli, ["blend", "--limits", str(LIMITS), "--mass-kg", "10000", "--inventory",
                                   str(SHEET_INVENTORY), "--objective", "cost", "--heel-kg", "2000",
                                   "--heel-composition", "Mg=2.4,Cr=0.2", "--draws", "1000", "--seed", "5", "--json"])
    assert out.exit_code == 0, out.output
    assert r.json()["status"] == "optimal"
    cli_json = json.loads(out.stdout)
    cli_json["spec"] = r.json()["spec"]   # the CLI names a custom spec after its file, the service "custom"
    assert_same(r.json(), cli_json)


def test_recipe_requests_are_checked_before_any_solve(client, keys):
    eng = bearer(keys["engineer"])
    empty = client.post("/v1/recipes", headers=eng, json={"alloy": "3104", "mass_kg": 1000})
    assert empty.status_code == 422 and "inventory" in empty.json()["detail"]
    register(client, keys["engineer"], CAMPAIGN_INVENTORY)
    both = client.post("/v1/recipes", headers=eng, json={"alloy": "3104", "limits": [{"element": "Mg"}],
                                                         "mass_kg": 1000})
    assert both.status_code == 422
    unknown = client.post("/v1/recipes", headers=eng, json={"alloy": "9999", "mass_kg": 1000})
    assert unknown.status_code == 404
    assert client.post("/v1/recipes", headers=bearer(keys["quality"]),
                       json={"alloy": "3104", "mass_kg": 1000}).status_code == 403


def test_a_campaign_runs_as_a_job_whose_result_equals_aluloop_plan(client, keys):
    eng = bearer(keys["engineer"])
    register(client, keys["engineer"], CAMPAIGN_INVENTORY)
    heats = [{"name": r["heat"], "alloy": r["alloy"], "mass_kg": float(r["mass_kg"]),
              **{k: float(r[k]) for k in ("confidence", "per_limit_confidence") if r.get(k)}}
             for r in csv_rows(SCHEDULE)]
    r = client.post("/v1/campaigns", headers=eng, json={"heats": heats, "draws": 1000})
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "queued"
    # TestClient returns once the answer's background task (the solve) has run
    job = client.get(r.headers["location"], headers=eng).json()
    assert job["status"] == "done", job
    out = CliRunner().invoke(cli, ["plan", "--schedule", str(SCHEDULE), "--inventory", str(CAMPAIGN_INVENTORY),
                                   "--draws", "1000", "--json"])
    assert out.exit_code == 0, out.output
    assert_same(job["result"], json.loads(out.stdout))
    assert client.post("/v1/campaigns", headers=eng,
                       json={"heats": [{**heats[0], "alloy": "9999"}]}).status_code == 404
    both = client.post("/v1/campaigns", headers=eng,
                       json={"heats": [{**heats[0], "confidence": 0.95, "per_limit_confidence": 0.99}]})
    assert both.status_code == 422 and "per_limit_confidence" in both.text
    assert client.get("/v1/jobs/999999", headers=eng).status_code == 404
