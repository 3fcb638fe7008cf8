"""What routes depend on: the settings, the process's Sorter, a database session and the caller's role.

Every protected route names its roles with ``Depends(Roles(...))``; ``tests/api/test_roles.py``
walks the app's routes and checks that each refuses every other role (403) and no key (401).

Keys are looked up in the database and the answer kept for :data:`KEY_CACHE_S` seconds, so that a
busy line costs one key lookup a second per key instead of one per request. What that costs:
a key revoked by another process (``aluloop keys revoke``, another worker or host) is refused at
most :data:`KEY_CACHE_S` seconds later; a key revoked through this process is refused from its next
request (revoking clears this process's cache). A new key works at once: unknown keys are never
cached. The dependencies are ``async`` so that a request served from the cache never waits for a
worker thread (FastAPI runs each plain ``def`` dependency in the thread pool).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from api.db.keys import ROLES, Principal, authenticate, key_hash
from api.db.tables import ApiKey
from api.settings import Settings
from sorter.serving import Sorter

# how long a looked-up key is trusted before it is read again [s]: the longest a revocation made
# by another process takes to reach this one
KEY_CACHE_S = 1.0


class KeyCache:
    """Live keys of this process by the sha256 of the key, each trusted for ``ttl_s`` seconds."""

    def __init__(self, ttl_s: float = KEY_CACHE_S, max_keys: int = 10_000):
        self.ttl_s = ttl_s
        self.max_keys = max_keys
        self._entries: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> Principal | None:
        entry = self._entries.get(digest)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, digest: str, principal: Principal) -> None:
        with self._lock:
            if len(self._entries) >= self.max_keys:
                self._entries.clear()
            self._entries[digest] = (principal, time.monotonic() + self.ttl_s)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


KEYS = KeyCache()


@event.listens_for(ApiKey.revoked_at, "set")
def _revoked(*_args) -> None:
    """A key revoked in this process is forgotten at once (before the commit: it is only read again)."""
    KEYS.clear()


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_sorter(request: Request) -> Sorter:
    return request.app.state.sorter


async def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_session(request: Request) -> Iterator[Session]:
    sessions: sessionmaker[Session] = request.app.state.sessions
    with sessions() as session:
        yield session


def bearer_key(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, key = authorization.partition(" ")
    return key.strip() if scheme.lower() == "bearer" and key.strip() else None


def _missing() -> HTTPException:
    return HTTPException(401, "missing key: send Authorization: Bearer KEY", {"WWW-Authenticate": "Bearer"})


def _lookup(sessions: sessionmaker[Session], key: str, digest: str) -> Principal | None:
    with sessions() as session:
        principal = authenticate(session, key)
    if principal is not None:
        KEYS.put(digest, principal)
    return principal


def _admit(principal: Principal | None, roles: tuple[str, ...]) -> Principal:
    if principal is None:
        raise HTTPException(401, "unknown or revoked key", {"WWW-Authenticate": "Bearer"})
    if principal.role not in roles:
        raise HTTPException(403, f"a {principal.role} key may not do this; it needs a key of role "
                            f"{' or '.join(roles)}")
    return principal


def principal_for(sessions: sessionmaker[Session], authorization: str | None, roles: tuple[str, ...]) -> Principal:
    """The caller of a live key with one of ``roles``; 401 without a live key, 403 with another role."""
    key = bearer_key(authorization)
    if key is None:
        raise _missing()
    digest = key_hash(key)
    return _admit(KEYS.get(digest) or _lookup(sessions, key, digest), roles)


class Roles:
    """A dependency that admits keys of ``roles`` only; routes keep it so that tests can read the roles."""

    def __init__(self, *roles: str):
        unknown = set(roles) - set(ROLES)
        if unknown or not roles:
            raise ValueError(f"roles must be some of {ROLES}, got {roles}")
        self.roles = roles

    async def __call__(self, request: Request) -> Principal:
        key = bearer_key(request.headers.get("authorization"))
        if key is None:
            raise _missing()
        digest = key_hash(key)
        principal = KEYS.get(digest)
        if principal is None:   # not seen for a while: read it in a worker thread
            principal = await run_in_threadpool(_lookup, request.app.state.sessions, key, digest)
        return _admit(principal, self.roles)


def check_line(principal: Principal, line_id: str) -> None:
    """403 when a key bound to some lines is used for another."""
    if not principal.may_use_line(line_id):
        raise HTTPException(403, f"this key may not use line {line_id!r}")


SettingsDep = Annotated[Settings, Depends(get_settings)]
SorterDep = Annotated[Sorter, Depends(get_sorter)]
SessionDep = Annotated[Session, Depends(get_session)]
