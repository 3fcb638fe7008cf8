"""``/v1/recipes``: a charge over the stored inventory, as ``aluloop blend --json`` gives it."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.db.keys import Principal
from api.deps import Roles, SessionDep
from api.problems import responses
from api.schemas_heats import RecipeIn
from api.services import recipes

router = APIRouter(prefix="/v1/recipes", tags=["recipes"])
ENGINEER = Roles("engineer")
Id = Annotated[int, Path(ge=1, le=2**62)]
RECIPE = {"description": "the JSON of `aluloop blend --json` (status optimal or infeasible)",
          "content": {"application/json": {"schema": {"type": "object"}}}}


@router.post("", status_code=201, responses={201: RECIPE, **responses(400, 401, 403, 404, 413, 422)},
             summary="Plan a charge over the stored inventory; the body is `aluloop blend --json`, "
                     "the recipe's URL is in Location")
async def create(body: RecipeIn, session: SessionDep,
                 principal: Annotated[Principal, Depends(ENGINEER)]) -> JSONResponse:
    recipe_id, result = await run_in_threadpool(recipes.create, session, body, principal.key_id)
    return JSONResponse(result, status_code=201, headers={"Location": f"/v1/recipes/{recipe_id}",
                                                          "X-Recipe-Id": str(recipe_id)})


@router.get("/{recipe_id}", responses={200: RECIPE, **responses(401, 403, 404, 422)},
            summary="A stored recipe (`aluloop blend --json`)")
def get(recipe_id: Id, session: SessionDep, principal: Annotated[Principal, Depends(ENGINEER)]) -> JSONResponse:
    return JSONResponse(json.loads(recipes.get(session, recipe_id).result))
