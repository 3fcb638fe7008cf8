"""A committed piece record as a MachineVision result: the state mapping and the event's fields.

ResultState follows OPC 40100-1 section 12.19 (ResultStateDataType, an Int32): 1 Completed for a
piece that was classified in time, 4 Failed for a spectrum that could not be classified, and the
application-specific (negative) state -1 Late for a piece whose decision came after its fire count
had passed: classified, but it goes to the recirculation bin and must not be ejected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

RESULT_STATE = {"ok": 1, "invalid": 4, "late": -1}
# the specification's name of each state (1 to 4) and ours (below 0)
STATE_NAMES = {0: "Undefined", 1: "Completed", 2: "Processing", 3: "Aborted", 4: "Failed", -1: "Late"}


@dataclass(frozen=True)
class SortResult:
    """What one ResultReadyEvent says about one piece record."""

    record_id: int
    line_id: str
    piece_id: str
    state: str
    result_state: int
    grade: str
    family: str
    bin: str
    decision: str
    fire_count: int | None
    received_at: datetime
    content_json: str


def sort_result(record_id: int, line_id: str, piece_id: str, received_at: datetime, result_json: str) -> SortResult:
    """The result of one stored piece record (``result_json`` is the body the line was answered)."""
    body = json.loads(result_json)
    state = body.get("state", "invalid")
    return SortResult(record_id=record_id, line_id=line_id, piece_id=piece_id, state=state,
                      result_state=RESULT_STATE.get(state, 0), grade=body.get("grade") or "",
                      family=body.get("family") or "", bin=body.get("bin") or "", decision=body.get("decision") or "",
                      fire_count=body.get("fire_count"), received_at=received_at, content_json=result_json)
