"""Long solves (campaign plans) as jobs: the state lives in the database, so any worker answers its status.

``POST /v1/campaigns`` stores a queued job and answers 202 with its status URL; the solve runs
after the answer, in the worker that took the request, which first claims the job (queued ->
running in one conditional UPDATE) and stores the result or the error when done.

While the solve runs, a heartbeat thread refreshes the job's ``updated_at`` every ``HEARTBEAT_S``.
A job ``queued`` or ``running`` whose ``updated_at`` is older than ``LOST_AFTER_S`` has no live
worker (it was killed, restarted or lost its database): reading it marks it ``failed`` with
"worker lost ... resubmit", by a conditional UPDATE, so any worker answers the same. A worker that
comes back to a job marked lost leaves it failed (its own last UPDATE needs ``running``).
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta

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
HEARTBEAT_S = 15.0        # a running job's updated_at is refreshed this often [s]
LOST_AFTER_S = 120.0      # no sign of life for this long: the worker is gone [s] (8 missed heartbeats)
LOST = (f"worker lost: no worker has worked on this job for {LOST_AFTER_S:.0f} s (the service was restarted "
        "or its worker died); nothing was planned, resubmit the campaign")


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
    if job.status in ("queued", "running") and reap(session, job_id):
        job = session.get(Job, job_id, populate_existing=True)
    return job_json(job)


def reap(session: Session, job_id: int, now: datetime | None = None) -> bool:
    """Mark the job failed ("worker lost") when it is queued or running with no sign of life for
    ``LOST_AFTER_S``; True when this call marked it."""
    now = now or datetime.now(UTC)
    table = Job.__table__
    done = session.execute(update(table).where(table.c.id == job_id, table.c.status.in_(("queued", "running")),
                                               table.c.updated_at < now - timedelta(seconds=LOST_AFTER_S))
                           .values(status="failed", error=LOST, updated_at=now))
    if done.rowcount != 1:
        session.rollback()
        return False
    job = session.get(Job, job_id)
    record(session, None, "job", job_id, "lost", created_by=job.created_by)
    session.commit()
    log.warning("job %s: worker lost, marked failed", job_id)
    return True


def beat(session: Session, job_id: int) -> int:
    """The running job's sign of life: ``updated_at`` now (1 when it is still running)."""
    table = Job.__table__
    done = session.execute(update(table).where(table.c.id == job_id, table.c.status == "running")
                           .values(updated_at=datetime.now(UTC)))
    session.commit()
    return done.rowcount


def _heartbeat(sessions: sessionmaker[Session], job_id: int, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_S):
        try:
            with sessions() as session:
                beat(session, job_id)
        except Exception:   # a missed beat is not fatal; LOST_AFTER_S allows several
            log.exception("job %s: heartbeat failed", job_id)


def _set(session: Session, job_id: int, **values) -> int:
    table = Job.__table__
    where = [table.c.id == job_id]
    where.append(table.c.status == ("queued" if values.get("status") == "running" else "running"))
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
        stop = threading.Event()
        heartbeat = threading.Thread(target=_heartbeat, args=(sessions, job_id, stop), name=f"job-{job_id}-heartbeat",
                                     daemon=True)
        heartbeat.start()
        try:
            heats = [_heat(h) for h in body.heats]
            request = CampaignRequest(heats, lots_on_hand(session), draws=body.draws, seed=body.seed,
                                      compare_greedy=body.compare_greedy)
            result = finite(plan_campaign(request).to_json())
        except AluloopError as exc:
            session.rollback()
            if _set(session, job_id, status="failed", error=str(exc)) == 1:
                record(session, job.created_by, "job", job_id, "failed")
                session.commit()
            return
        except Exception:
            log.exception("job %s failed", job_id)
            session.rollback()
            _set(session, job_id, status="failed", error="internal error (a bug in aluloop); see the service log")
            return
        finally:
            stop.set()
            heartbeat.join()
        if _set(session, job_id, status="done", result=json.dumps(result)) != 1:
            log.warning("job %s: solved after it was marked lost; the result is dropped", job_id)
            return
        record(session, job.created_by, "job", job_id, "done")
        session.commit()
