"""Signed session cookies and CSRF tokens of the browser UI.

A signed-in browser holds ``aluloop_session``: ``base64(json{key_id, csrf, exp}).hmac_sha256``,
HttpOnly and SameSite=Strict. The key itself never goes into the cookie; each request loads the
key by id and refuses a revoked one. Every form carries the session's CSRF token and a POST without
the same token is refused (the sign-in form uses a double-submit cookie, as there is no session yet).
The signing secret is ``$ALULOOP_UI_SECRET`` when set, else one random secret kept in the database
(table ``app_secrets``, made by the first worker that starts), so that every worker and host behind
a load balancer accepts the sessions of the others: the app keeps no state in process memory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time

COOKIE = "aluloop_session"
LOGIN_CSRF_COOKIE = "aluloop_login_csrf"
LIFETIME_S = 8 * 3600
SECRET_NAME = "ui_session"


def shared_secret(engine) -> bytes:
    """``$ALULOOP_UI_SECRET``, else the database's session secret, made once by whichever worker comes first."""
    given = os.environ.get("ALULOOP_UI_SECRET")
    if given:
        return given.encode()
    from sqlalchemy import insert, select
    from sqlalchemy.exc import IntegrityError

    from api.db.tables import AppSecret
    with engine.begin() as conn:
        found = conn.scalar(select(AppSecret.value).where(AppSecret.name == SECRET_NAME))
    if found is None:
        try:
            with engine.begin() as conn:
                conn.execute(insert(AppSecret).values(name=SECRET_NAME, value=secrets.token_hex(32)))
        except IntegrityError:     # another worker made it first: use theirs
            pass
        with engine.begin() as conn:
            found = conn.scalar(select(AppSecret.value).where(AppSecret.name == SECRET_NAME))
    return found.encode()


def _sign(secret: bytes, body: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def make(secret: bytes, key_id: int) -> tuple[str, str]:
    """A session cookie value for ``key_id`` and its CSRF token."""
    csrf = secrets.token_urlsafe(24)
    body = base64.urlsafe_b64encode(json.dumps({"key_id": key_id, "csrf": csrf,
                                                "exp": int(time.time()) + LIFETIME_S}).encode())
    return f"{body.decode()}.{_sign(secret, body)}", csrf


def read(secret: bytes, value: str | None) -> dict | None:
    """The session in a cookie value, or None when it is missing, forged or expired."""
    if not value or "." not in value:
        return None
    body, _, mac = value.rpartition(".")
    if not hmac.compare_digest(_sign(secret, body.encode()), mac):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(body.encode()))
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("exp", 0) < time.time():
        return None
    return data


def same_token(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
