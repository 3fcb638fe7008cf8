"""``/v1/heats/{id}/report``: a heat's report for quality staff (JSON, HTML, PDF, CSV); approve or reject it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api.db.keys import Principal
from api.deps import Roles, SessionDep
from api.problems import responses
from api.reports import approval, render

router = APIRouter(prefix="/v1/heats", tags=["reports"])
READERS = Roles("quality", "engineer")
QUALITY = Roles("quality")
Id = Annotated[int, Path(ge=1, le=2**62)]


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field("", max_length=4000, description="why; shown in the report and the audit trail")


def _file(heat_id: int, fmt: str) -> str:
    return f'attachment; filename="heat-{heat_id}-report.{fmt}"'


@router.get("/{heat_id}/report", responses=responses(401, 403, 404, 422),
            summary="The heat's report (JSON); the frozen approved revision while the heat is unchanged")
def report_json(heat_id: Id, session: SessionDep, principal: Annotated[Principal, Depends(READERS)]) -> JSONResponse:
    return JSONResponse(approval.current(session, heat_id))


@router.get("/{heat_id}/report.{fmt}", responses=responses(401, 403, 404, 422),
            summary="The heat's report as json, html, pdf (with the EN 10204 3.1 certificate page) or csv")
async def report_file(heat_id: Id, fmt: Literal["json", "html", "pdf", "csv"], session: SessionDep,
                      principal: Annotated[Principal, Depends(READERS)]) -> Response:
    report = await run_in_threadpool(approval.current, session, heat_id)
    if fmt == "json":
        return JSONResponse(report)
    if fmt == "html":
        return HTMLResponse(await run_in_threadpool(render.html, report))
    if fmt == "pdf":
        return Response(await run_in_threadpool(render.pdf, report), media_type="application/pdf",
                        headers={"Content-Disposition": _file(heat_id, "pdf")})
    return Response(render.csv_text(report), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": _file(heat_id, "csv")})


@router.post("/{heat_id}/approve", responses=responses(400, 401, 403, 404, 413, 422),
             summary="Approve the report's current revision (quality): it is frozen as approved")
def approve(heat_id: Id, body: ReviewIn, session: SessionDep,
            principal: Annotated[Principal, Depends(QUALITY)]) -> JSONResponse:
    return JSONResponse(approval.review(session, heat_id, "approved", body.comment, principal))


@router.post("/{heat_id}/reject", responses=responses(400, 401, 403, 404, 413, 422),
             summary="Reject the report's current revision (quality), with the reason in the comment")
def reject(heat_id: Id, body: ReviewIn, session: SessionDep,
           principal: Annotated[Principal, Depends(QUALITY)]) -> JSONResponse:
    return JSONResponse(approval.review(session, heat_id, "rejected", body.comment, principal))
