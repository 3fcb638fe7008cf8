"""Recipes with custom limits and campaign plans as jobs, each checked against the CLI on the same files."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from aluloop.cli import app as cli
from api.db.tables import Event, Job
from api.schemas_heats import CampaignIn
from api.services import jobs as jobs_service
from tests.api.heats_support import BACKENDS, csv_rows, database_url, started
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


ONE_HEAT = {"heats": [{"name": "H1", "alloy": "3104", "mass_kg": 20000}], "draws": 1000}


def queued_job(app, eng_key_id=None) -> int:
    with app.state.sessions() as session:
        return int(jobs_service.submit_campaign(session, CampaignIn.model_validate(ONE_HEAT), eng_key_id)["id"])


def set_job(app, job_id: int, **values) -> None:
    """Drive the clock: write the job's state and updated_at directly."""
    with app.state.sessions() as session:
        session.execute(update(Job).where(Job.id == job_id).values(**values))
        session.commit()


@pytest.fixture(params=BACKENDS)
def service(request, tmp_path):
    client, keys = started(database_url(request, tmp_path))
    yield client.app, client, keys
    client.__exit__(None, None, None)


def test_a_job_whose_worker_gave_no_sign_of_life_for_the_limit_reads_failed_worker_lost(service):
    app, client, keys = service
    eng = bearer(keys["engineer"])
    now = datetime.now(UTC)
    limit = timedelta(seconds=jobs_service.LOST_AFTER_S)
    lost, slow, stuck, done = (queued_job(app) for _ in range(4))
    set_job(app, lost, status="running", updated_at=now - limit - timedelta(seconds=1))
    set_job(app, slow, status="running", updated_at=now - limit + timedelta(seconds=30))
    set_job(app, stuck, updated_at=now - limit - timedelta(seconds=1))          # queued, never claimed
    set_job(app, done, status="done", result="{}", updated_at=now - 10 * limit)

    answer = client.get(f"/v1/jobs/{lost}", headers=eng).json()
    assert answer["status"] == "failed" and "worker lost" in answer["error"] and "resubmit" in answer["error"]
    assert client.get(f"/v1/jobs/{slow}", headers=eng).json()["status"] == "running"
    assert client.get(f"/v1/jobs/{stuck}", headers=eng).json()["status"] == "failed"
    finished = client.get(f"/v1/jobs/{done}", headers=eng).json()
    assert finished["status"] == "done" and finished["error"] is None
    # a worker that comes back to the lost job does not take it up again
    jobs_service.run(app.state.sessions, stuck)
    assert client.get(f"/v1/jobs/{stuck}", headers=eng).json()["status"] == "failed"
    with app.state.sessions() as session:
        lost_events = session.scalars(select(Event.subject_id).where(Event.subject == "job",
                                                                     Event.action == "lost")).all()
    assert sorted(lost_events) == sorted([lost, stuck])


class Planned:
    def to_json(self) -> dict:
        return {"planned": True}


def test_the_heartbeat_keeps_a_long_solve_alive_and_a_solve_marked_lost_stays_failed(service, monkeypatch):
    """The solve (stubbed) pushes its job's updated_at past the limit, as a long solve would, then
    waits for one heartbeat: the job still reads running. With no heartbeat it reads failed, and the
    solve's late result does not overwrite that."""
    app, client, keys = service
    eng = bearer(keys["engineer"])
    register(client, keys["engineer"], CAMPAIGN_INVENTORY)
    beaten = threading.Event()
    plain_beat = jobs_service.beat

    def beat(session, job_id):
        rows = plain_beat(session, job_id)
        beaten.set()
        return rows

    seen: list[str] = []

    def long_solve(request):
        job_id = current[0]
        set_job(app, job_id, updated_at=datetime.now(UTC) - timedelta(seconds=jobs_service.LOST_AFTER_S + 1))
        for _ in range(2):   # the second beat began after the first had ended, so after the line above
            beaten.clear()
            beaten.wait(timeout=30)
        seen.append(client.get(f"/v1/jobs/{job_id}", headers=eng).json()["status"])
        return Planned()

    monkeypatch.setattr(jobs_service, "beat", beat)
    monkeypatch.setattr(jobs_service, "plan_campaign", long_solve)
    monkeypatch.setattr(jobs_service, "HEARTBEAT_S", 0.001)
    current = [queued_job(app)]
    jobs_service.run(app.state.sessions, current[0])
    assert seen == ["running"]
    assert client.get(f"/v1/jobs/{current[0]}", headers=eng).json()["result"] == {"planned": True}

    monkeypatch.setattr(jobs_service, "HEARTBEAT_S", 3600.0)   # a worker whose heartbeat stopped
    monkeypatch.setattr(beaten, "wait", lambda timeout=None: True)
    current[0] = queued_job(app)
    jobs_service.run(app.state.sessions, current[0])
    assert seen == ["running", "failed"]
    job = client.get(f"/v1/jobs/{current[0]}", headers=eng).json()
    assert job["status"] == "failed" and "worker lost" in job["error"] and job["result"] is None
