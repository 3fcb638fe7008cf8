"""``/v1/inventory``: purchased scrap, primary and hardeners (engineers register them); closed lots appear here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path
from fastapi.responses import JSONResponse
from pydantic import StringConstraints

from api.db.keys import Principal
from api.deps import Roles, SessionDep
from api.problems import responses
from api.schemas_heats import Cell, InventoryItemOut, InventoryPage
from api.services import inventory

router = APIRouter(prefix="/v1/inventory", tags=["inventory"])
ENGINEER = Roles("engineer")
Id = Annotated[int, Path(ge=1, le=2**62)]
ROW_EXAMPLE = {"material": "UBC", "available_kg": 40000}


@router.post("", response_model=InventoryItemOut, status_code=201, responses=responses(400, 401, 403, 409, 413, 422),
             summary="Register a material on hand: one inventory CSV row (`aluloop blend --inventory`)")
def register(session: SessionDep, principal: Annotated[Principal, Depends(ENGINEER)],
             row: Annotated[dict[Annotated[str, StringConstraints(min_length=1, max_length=100)], Cell],
                            Body(max_length=200, examples=[ROW_EXAMPLE],
                                 description="column -> cell, the columns of the inventory CSV")]) -> JSONResponse:
    item = inventory.register(session, inventory.check_cells(row), principal.key_id)
    return JSONResponse(item, status_code=201, headers={"Location": f"/v1/inventory/{item['id']}"})


@router.get("", response_model=InventoryPage, responses=responses(401, 403),
            summary="Everything in the inventory, with the stock left")
def list_items(session: SessionDep, principal: Annotated[Principal, Depends(ENGINEER)]) -> JSONResponse:
    return JSONResponse({"items": inventory.list_items(session)})


@router.get("/{item_id}", response_model=InventoryItemOut, responses=responses(401, 403, 404, 422),
            summary="One inventory item")
def get_item(item_id: Id, session: SessionDep, principal: Annotated[Principal, Depends(ENGINEER)]) -> JSONResponse:
    return JSONResponse(inventory.get_item(session, item_id))
