"""Follow the committed piece records of the database, in commit order, each once.

Only committed rows are visible to another connection, so a record read here has been answered
to its line (the HTTP service answers after commit). Ids are assigned at insert, not at commit: on
PostgreSQL two transactions can commit out of id order, and ``INSERT ... ON CONFLICT DO NOTHING``
burns ids of replayed pieces. So the follower reads ``id > newest seen`` and also re-reads the ids it
skipped (gaps) for ``gap_timeout_s``, after which a gap is taken for a burnt id.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.db.tables import LineRules, PieceRecord
from api.opcua.results import SortResult, sort_result

MAX_GAPS = 10_000


def _result(row: PieceRecord) -> SortResult:
    return sort_result(row.id, row.line_id, row.piece_id, row.received_at, row.result)


def known_lines(session: Session) -> set[str]:
    """Lines of the line configuration and of the records."""
    lines = set(session.scalars(select(LineRules.line_id)))
    lines.update(session.scalars(select(PieceRecord.line_id).distinct()))
    session.rollback()
    return lines


@dataclass
class RecordFollower:
    """Reads each committed record once; ``newest`` starts at the newest record when the follower is made."""

    sessions: sessionmaker[Session]
    batch: int = 1000
    gap_timeout_s: float = 30.0
    newest: int = -1
    gaps: dict[int, float] = field(default_factory=dict)   # id -> monotonic time it was first missed

    def start_at_newest(self) -> None:
        with self.sessions() as session:
            self.newest = session.scalar(select(func.max(PieceRecord.id))) or 0

    def poll(self) -> list[SortResult]:
        """The records committed since the last poll, oldest first (ids skipped earlier that appeared now first)."""
        now = time.monotonic()
        out: list[SortResult] = []
        with self.sessions() as session:
            if self.gaps:
                found = [_result(r) for r in session.scalars(
                    select(PieceRecord).where(PieceRecord.id.in_(list(self.gaps))).order_by(PieceRecord.id))]
                for r in found:
                    del self.gaps[r.record_id]
                out.extend(found)
            new = [_result(r) for r in session.scalars(select(PieceRecord).where(PieceRecord.id > self.newest)
                                                       .order_by(PieceRecord.id).limit(self.batch))]
            session.rollback()
        for r in new:
            for missing in range(max(self.newest + 1, r.record_id - MAX_GAPS), r.record_id):
                self.gaps[missing] = now
            self.newest = r.record_id
            out.append(r)
        expired = [i for i, seen in self.gaps.items() if now - seen > self.gap_timeout_s]
        for i in expired:
            del self.gaps[i]
        while len(self.gaps) > MAX_GAPS:
            del self.gaps[min(self.gaps)]
        return out
