"""``/v1/lots``: the lots classified pieces gather into; engineers close them, quality reads them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse

from api.db.keys import Principal
from api.deps import Roles, SessionDep, SorterDep
from api.problems import responses
from api.schemas import LINE_ID
from api.schemas_heats import LotOut, LotPage
from api.services import lots

router = APIRouter(prefix="/v1/lots", tags=["lots"])
READERS = Roles("engineer", "quality")
ENGINEER = Roles("engineer")
Id = Annotated[int, Path(ge=1, le=2**62)]


@router.get("", response_model=LotPage, responses=responses(401, 403, 422), summary="Lots, newest first")
def list_lots(session: SessionDep, principal: Annotated[Principal, Depends(READERS)],
              line_id: Annotated[str | None, Query(min_length=1, max_length=100, pattern=LINE_ID)] = None,
              status: Literal["open", "closed"] | None = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> JSONResponse:
    return JSONResponse({"items": lots.list_lots(session, line_id, status, limit)})


@router.get("/{lot_id}", response_model=LotOut, responses=responses(401, 403, 404, 422), summary="One lot")
def get_lot(lot_id: Id, session: SessionDep, principal: Annotated[Principal, Depends(READERS)]) -> JSONResponse:
    return JSONResponse(lots.get_lot(session, lot_id))


@router.post("/{lot_id}/close", response_model=LotOut, responses=responses(401, 403, 404, 409, 422),
             summary="Close an open lot now: its chemistry is computed and it enters the inventory")
def close_lot(lot_id: Id, session: SessionDep, sorter: SorterDep,
              principal: Annotated[Principal, Depends(ENGINEER)]) -> JSONResponse:
    return JSONResponse(lots.close_lot(session, sorter, lot_id, principal.key_id))
