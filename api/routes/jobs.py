"""``/v1/campaigns`` and ``/v1/jobs/{id}``: campaign plans run as jobs whose state is in the database."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.db.keys import Principal
from api.deps import Roles, SessionDep
from api.problems import responses
from api.schemas_heats import CampaignIn, JobOut
from api.services import jobs

router = APIRouter(prefix="/v1", tags=["jobs"])
ENGINEER = Roles("engineer")
Id = Annotated[int, Path(ge=1, le=2**62)]


@router.post("/campaigns", response_model=JobOut, status_code=202, responses=responses(400, 401, 403, 404, 413, 422),
             summary="Plan heats together from the stored inventory, as a job; poll the Location URL")
def campaign(body: CampaignIn, request: Request, tasks: BackgroundTasks, session: SessionDep,
             principal: Annotated[Principal, Depends(ENGINEER)]) -> JSONResponse:
    job = jobs.submit_campaign(session, body, principal.key_id)
    tasks.add_task(run_in_threadpool, jobs.run, request.app.state.sessions, int(job["id"]))
    return JSONResponse(job, status_code=202, headers={"Location": f"/v1/jobs/{job['id']}"})


@router.get("/jobs/{job_id}", response_model=JobOut, responses=responses(401, 403, 404, 422),
            summary="A job's status, and its result when done")
def get(job_id: Id, session: SessionDep, principal: Annotated[Principal, Depends(ENGINEER)]) -> JSONResponse:
    return JSONResponse(jobs.get(session, job_id))
