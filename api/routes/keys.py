"""``/v1/keys``: an admin lists, makes and revokes keys (``aluloop keys`` does the same from the shell)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api.db.keys import Principal, create_key, describe, list_keys, revoke_key
from api.deps import Roles, SessionDep
from api.problems import responses
from api.schemas import KeyCreated, KeyIn, KeyOut

router = APIRouter(prefix="/v1/keys", tags=["keys"])
ADMIN = Roles("admin")


@router.get("", response_model=list[KeyOut], responses=responses(401, 403), summary="Every key (never the key)")
def get_keys(session: SessionDep, _: Annotated[Principal, Depends(ADMIN)]) -> list[dict]:
    return [describe(row) for row in list_keys(session)]


@router.post("", response_model=KeyCreated, status_code=201, responses=responses(400, 401, 403, 413, 422),
             summary="Make a key; the answer is the only time the key is shown")
def post_key(body: KeyIn, session: SessionDep, _: Annotated[Principal, Depends(ADMIN)]) -> dict:
    row, key = create_key(session, body.role, body.name, body.lines)
    session.commit()
    return {**describe(row), "key": key}


@router.delete("/{key_id}", response_model=KeyOut, responses=responses(401, 403, 404, 422),
               summary="Revoke a key; it is refused from the next request on")
def delete_key(key_id: Annotated[int, Path(ge=1, le=2**62)], session: SessionDep,
               _: Annotated[Principal, Depends(ADMIN)]) -> dict:
    row = revoke_key(session, key_id)
    session.commit()
    return describe(row)
