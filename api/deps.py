"""What routes depend on: the settings, the process's Sorter, a database session and the caller's role.

Every protected route names its roles with ``Depends(Roles(...))``; ``tests/api/test_roles.py``
walks the app's routes and checks that each refuses every other role (403) and no key (401).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.db.keys import ROLES, Principal, authenticate
from api.settings import Settings
from sorter.serving import Sorter


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_sorter(request: Request) -> Sorter:
    return request.app.state.sorter


def get_engine(request: Request) -> Engine:
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


def principal_for(sessions: sessionmaker[Session], authorization: str | None, roles: tuple[str, ...]) -> Principal:
    """The caller of a live key with one of ``roles``; 401 without a live key, 403 with another role."""
    key = bearer_key(authorization)
    if key is None:
        raise HTTPException(401, "missing key: send Authorization: Bearer KEY", {"WWW-Authenticate": "Bearer"})
    with sessions() as session:
        principal = authenticate(session, key)
    if principal is None:
        raise HTTPException(401, "unknown or revoked key", {"WWW-Authenticate": "Bearer"})
    if principal.role not in roles:
        raise HTTPException(403, f"a {principal.role} key may not do this; it needs a key of role "
                            f"{' or '.join(roles)}")
    return principal


class Roles:
    """A dependency that admits keys of ``roles`` only; routes keep it so that tests can read the roles."""

    def __init__(self, *roles: str):
        unknown = set(roles) - set(ROLES)
        if unknown or not roles:
            raise ValueError(f"roles must be some of {ROLES}, got {roles}")
        self.roles = roles

    def __call__(self, request: Request) -> Principal:
        return principal_for(request.app.state.sessions, request.headers.get("authorization"), self.roles)


def check_line(principal: Principal, line_id: str) -> None:
    """403 when a key bound to some lines is used for another."""
    if not principal.may_use_line(line_id):
        raise HTTPException(403, f"this key may not use line {line_id!r}")


SettingsDep = Annotated[Settings, Depends(get_settings)]
SorterDep = Annotated[Sorter, Depends(get_sorter)]
SessionDep = Annotated[Session, Depends(get_session)]
