"""``/v1/lines/{line_id}/rules``: a line's sort rules, read by its controllers, set by an admin."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api.db.keys import Principal
from api.db.tables import LineRules
from api.deps import Roles, SessionDep, check_line
from api.problems import responses
from api.schemas import LINE_ID
from api.services.rules import SortRules

router = APIRouter(prefix="/v1/lines", tags=["lines"])
LineId = Annotated[str, Path(min_length=1, max_length=100, pattern=LINE_ID)]


@router.get("/{line_id}/rules", response_model=SortRules, responses=responses(401, 403, 422),
            summary="The sort rules of a line (the defaults when none were set)")
def get_rules(line_id: LineId, session: SessionDep,
              principal: Annotated[Principal, Depends(Roles("controller", "quality", "admin"))]) -> SortRules:
    check_line(principal, line_id)
    row = session.get(LineRules, line_id)
    return SortRules.model_validate_json(row.rules) if row else SortRules()


@router.put("/{line_id}/rules", response_model=SortRules, responses=responses(400, 401, 403, 413, 422),
            summary="Set the sort rules of a line; pieces classified after the answer use them")
def put_rules(line_id: LineId, rules: SortRules, session: SessionDep,
              principal: Annotated[Principal, Depends(Roles("admin"))]) -> SortRules:
    row = session.get(LineRules, line_id)
    text = rules.model_dump_json()
    now = datetime.now(UTC)
    if row is None:
        session.add(LineRules(line_id=line_id, rules=text, updated_at=now, updated_by=principal.key_id))
    else:
        row.rules, row.updated_at, row.updated_by = text, now, principal.key_id
    session.commit()
    return rules
