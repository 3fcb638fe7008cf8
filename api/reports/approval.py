"""Approve or reject a heat's report; serve an approved report frozen.

A review stores the report as it was reviewed and a sha256 of its content (everything but the
build time and the review section). Reading the report builds it afresh: when the content equals the
last approved revision's, the stored (frozen) report is served; when the heat changed since, the
report is a new revision, pending review. Reviews are also audit events (subject ``report``).
An approved revision takes no further review (409).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.keys import Principal
from api.db.tables import ReportReview
from api.reports.builder import build
from api.services.inventory import conflict, iso, record

VOLATILE = ("built_at", "review", "reviews", "revision")


def content_sha256(report: dict) -> str:
    body = {k: v for k, v in report.items() if k not in VOLATILE}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _reviews(session: Session, heat_id: int) -> list[ReportReview]:
    return list(session.scalars(select(ReportReview).where(ReportReview.heat_id == heat_id)
                                .order_by(ReportReview.id)))


def _review_json(r: ReportReview) -> dict:
    return {"revision": r.revision, "decision": r.decision, "comment": r.comment, "reviewer": r.reviewer,
            "key_id": None if r.key_id is None else str(r.key_id), "at": iso(r.at)}


def current(session: Session, heat_id: int) -> dict:
    """The report to show: the frozen approved one while the heat is unchanged, else a fresh build."""
    fresh = build(session, heat_id)
    digest = content_sha256(fresh)
    reviews = _reviews(session, heat_id)
    history = [_review_json(r) for r in reviews]
    last_revision = max((r.revision for r in reviews), default=0)
    same = [r for r in reviews if r.content_sha256 == digest]
    if same:
        revision = same[-1].revision
        approved = [r for r in same if r.decision == "approved"]
        if approved:
            report = json.loads(approved[-1].report)
            report.update(revision=revision, review={**_review_json(approved[-1]), "status": "approved",
                                                     "frozen": True}, reviews=history)
            return report
        report = fresh
        report.update(revision=revision, review={**_review_json(same[-1]), "status": same[-1].decision,
                                                 "frozen": False}, reviews=history)
        return report
    fresh.update(revision=last_revision + 1, review={"status": "pending", "frozen": False}, reviews=history)
    return fresh


def review(session: Session, heat_id: int, decision: str, comment: str, principal: Principal) -> dict:
    """Record ``decision`` (approved or rejected) on the current revision of the heat's report."""
    fresh = build(session, heat_id)
    digest = content_sha256(fresh)
    reviews = _reviews(session, heat_id)
    same = [r for r in reviews if r.content_sha256 == digest]
    revision = same[-1].revision if same else max((r.revision for r in reviews), default=0) + 1
    if any(r.decision == "approved" for r in same):
        raise conflict(f"revision {revision} of this report is already approved and frozen; a change to the heat "
                       "makes a new revision to review")
    at = datetime.now(UTC)
    frozen = dict(fresh, revision=revision)
    row = ReportReview(heat_id=heat_id, revision=revision, decision=decision, comment=comment,
                       key_id=principal.key_id, reviewer=principal.name, at=at, content_sha256=digest,
                       report=json.dumps(frozen))
    session.add(row)
    session.flush()
    record(session, principal.key_id, "report", heat_id, decision, revision=revision, comment=comment)
    session.commit()
    return current(session, heat_id)
