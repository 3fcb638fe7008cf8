"""``/v1/heats``: charge a heat from a recipe, record OES analyses, trim it, close it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.db.keys import Principal
from api.deps import Roles, SessionDep
from api.problems import responses
from api.schemas_heats import AnalysisIn, AnalysisOut, HeatIn, HeatOut, HeatPage, TrimIn, TrimOut
from api.services import heats

router = APIRouter(prefix="/v1/heats", tags=["heats"])
ENGINEER = Roles("engineer")
READERS = Roles("engineer", "quality")
Id = Annotated[int, Path(ge=1, le=2**62)]
WRITE = responses(400, 401, 403, 404, 409, 413, 422)


@router.post("", response_model=HeatOut, status_code=201, responses=WRITE,
             summary="Charge a heat from an optimal recipe: its charge is taken off the stock (409 when short)")
def create(body: HeatIn, session: SessionDep, principal: Annotated[Principal, Depends(ENGINEER)]) -> JSONResponse:
    heat = heats.create(session, body, principal.key_id)
    return JSONResponse(heat, status_code=201, headers={"Location": f"/v1/heats/{heat['id']}"})


@router.get("", response_model=HeatPage, responses=responses(401, 403, 422), summary="Heats, newest first")
def list_heats(session: SessionDep, principal: Annotated[Principal, Depends(READERS)],
               status: Literal["charged", "closed"] | None = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> JSONResponse:
    return JSONResponse({"items": heats.list_heats(session, status, limit)})


@router.get("/{heat_id}", response_model=HeatOut, responses=responses(401, 403, 404, 422),
            summary="One heat with its analyses and trims")
def get(heat_id: Id, session: SessionDep, principal: Annotated[Principal, Depends(READERS)]) -> JSONResponse:
    return JSONResponse(heats.get(session, heat_id))


@router.post("/{heat_id}/analyses", response_model=AnalysisOut, status_code=201, responses=WRITE,
             summary="Record an OES analysis of the melt")
def add_analysis(heat_id: Id, body: AnalysisIn, session: SessionDep,
                 principal: Annotated[Principal, Depends(ENGINEER)]) -> JSONResponse:
    return JSONResponse(heats.add_analysis(session, heat_id, body, principal.key_id), status_code=201)


@router.post("/{heat_id}/trim", response_model=TrimOut, status_code=201, responses=WRITE,
             summary="The trim correction of the melt (blending plan_trim) with the inventory on hand")
async def trim(heat_id: Id, body: TrimIn, session: SessionDep,
               principal: Annotated[Principal, Depends(ENGINEER)]) -> JSONResponse:
    result = await run_in_threadpool(heats.add_trim, session, heat_id, body, principal.key_id)
    return JSONResponse(result, status_code=201)


@router.post("/{heat_id}/close", response_model=HeatOut, responses=WRITE,
             summary="Close the heat (a second close is answered 409)")
def close(heat_id: Id, session: SessionDep, principal: Annotated[Principal, Depends(ENGINEER)]) -> JSONResponse:
    return JSONResponse(heats.close(session, heat_id, principal.key_id))


@router.post("/{heat_id}/trims/{trim_id}/apply", response_model=HeatOut, responses=WRITE,
             summary="Apply a trim: its additions come off the stock (409 when applied already, closed or short)")
def apply_trim(heat_id: Id, trim_id: Id, session: SessionDep,
               principal: Annotated[Principal, Depends(ENGINEER)]) -> JSONResponse:
    return JSONResponse(heats.apply_trim(session, heat_id, trim_id, principal.key_id))
