"""Long solves (campaign plans) as jobs: the state lives in the database, so any worker answers its status.

``POST /v1/campaigns`` stores a queued job and answers 202 with its status URL; the solve runs
after the answer, in the worker that took the request, which first claims the job (queued ->
running in one conditional UPDATE) and stores the result or the error when done. A worker that
dies mid-solve leaves its job ``running``: the status says so, nothing is lost but the solve.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from api.db.tables import Job
from api.schemas_heats import CampaignIn
from api.services.inventory import iso, lots_on_hand, record
from api.services.recipes import finite
from blending.campaign import Heat
from blending.catalogue.spec import get_alloy
from blending.errors import AluloopError, InputError, NotFoundError
from blending.plan import CampaignRequest, plan_campaign
from blending.request import check_draws, check_probability

log = logging.getLogger("api.jobs")


def job_json(job: Job) -> dict:
    return {"id": str(job.id), "kind": job.kind, "status": job.status,
            "result": None if job.result is None else json.loads(job.result), "error": job.error,
            "created_at": iso(job.created_at), "updated_at": iso(job.updated_at)}


def _heat(item: CampaignIn.HeatItem) -> Heat:
    return Heat(item.name, get_alloy(item.alloy), item.mass_kg, confidence=item.per_limit_confidence,
                joint_confidence=item.confidence)


def submit_campaign(session: Session, body: CampaignIn, key_id: int | None) -> dict:
    """Check the request now (a bad alloy is a 4xx, not a failed job) and queue it."""
    check_draws(body.draws)
    for i, heat in enumerate(body.heats):
        for name in ("confidence", "per_limit_confidence"):
            if getattr(heat, name) is not None:
                check_probability(getattr(heat, name), f"heats[{i}].{name}")
        if heat.confidence is not None and heat.per_limit_confidence is not None:
            raise InputError("give either confidence (the whole heat) or per_limit_confidence, not both",
                             field=f"heats[{i}].per_limit_confidence")
        _heat(heat)
    now = datetime.now(UTC)
    job = Job(kind="campaign", status="queued", request=body.model_dump_json(), created_at=now, updated_at=now,
              created_by=key_id)
    session.add(job)
    session.flush()
    record(session, key_id, "job", job.id, "queued", kind="campaign")
    session.commit()
    return job_json(job)


def get(session: Session, job_id: int) -> dict:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFoundError(f"no job {job_id}", field="path.job_id")
    return job_json(job)


def _set(session: Session, job_id: int, **values) -> int:
    table = Job.__table__
    where = [table.c.id == job_id]
    if values.get("status") == "running":
        where.append(table.c.status == "queued")
    done = session.execute(update(table).where(*where).values(updated_at=datetime.now(UTC), **values))
    session.commit()
    return done.rowcount


def run(sessions: sessionmaker[Session], job_id: int) -> None:
    """Claim and solve one queued job (a no-op when another worker has it)."""
    with sessions() as session:
        if _set(session, job_id, status="running") != 1:
            return
        job = session.get(Job, job_id)
        body = CampaignIn.model_validate_json(job.request)
        try:
            heats = [_heat(h) for h in body.heats]
            request = CampaignRequest(heats, lots_on_hand(session), draws=body.draws, seed=body.seed,
                                      compare_greedy=body.compare_greedy)
            result = finite(plan_campaign(request).to_json())
        except AluloopError as exc:
            session.rollback()
            _set(session, job_id, status="failed", error=str(exc))
            record(session, job.created_by, "job", job_id, "failed")
            session.commit()
            return
        except Exception:
            log.exception("job %s failed", job_id)
            session.rollback()
            _set(session, job_id, status="failed", error="internal error (a bug in aluloop); see the service log")
            return
        _set(session, job_id, status="done", result=json.dumps(result))
        record(session, job.created_by, "job", job_id, "done")
        session.commit()
