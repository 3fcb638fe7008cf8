"""API keys: made once, stored as sha256, looked up by the hash of what a client sends.

A key is ``alu_`` and 43 characters of ``secrets.token_urlsafe`` (256 bits): with that much
entropy an unsalted sha256 cannot be reversed by guessing, so the lookup can be one indexed
equality on the hash; the stored hash is then compared in constant time as well.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.tables import ApiKey
from blending.errors import InputError, NotFoundError

ROLES = ("controller", "engineer", "quality", "admin")
PREFIX = "alu_"


@dataclass(frozen=True)
class Principal:
    """Who a request comes from: the key's id, name, role and the lines it may use (None: all)."""

    key_id: int
    name: str
    role: str
    lines: tuple[str, ...] | None = None

    def may_use_line(self, line_id: str) -> bool:
        return self.lines is None or line_id in self.lines


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(session: Session, role: str, name: str = "", lines: list[str] | None = None) -> tuple[ApiKey, str]:
    """Store a new key of ``role`` and return its row and the key itself (shown once, never stored)."""
    if role not in ROLES:
        raise InputError(f"{role!r} is not one of {', '.join(ROLES)}", field="role")
    key = PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name or role, role=role, key_sha256=key_hash(key), prefix=key[:10],
                 lines=json.dumps(sorted(set(lines))) if lines else None, created_at=datetime.now(UTC))
    session.add(row)
    session.flush()
    return row, key


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke_key(session: Session, key_id: int) -> ApiKey:
    """Mark key ``key_id`` revoked (kept, so records still name who sent them)."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFoundError(f"no key {key_id}", field="key_id")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
    return row


def authenticate(session: Session, key: str) -> Principal | None:
    """The principal of a live key, or None for an unknown or revoked one."""
    digest = key_hash(key)
    row = session.scalars(select(ApiKey).where(ApiKey.key_sha256 == digest)).first()
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_sha256, digest):
        return None
    lines = tuple(json.loads(row.lines)) if row.lines else None
    return Principal(row.id, row.name, row.role, lines)


def describe(row: ApiKey) -> dict:
    """A key as listed: never the key, only its first characters."""
    return {"id": row.id, "name": row.name, "role": row.role, "prefix": row.prefix,
            "lines": json.loads(row.lines) if row.lines else None,
            "created_at": row.created_at.isoformat(),
            "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None}
