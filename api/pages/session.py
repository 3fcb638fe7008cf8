"""Signed session cookies and CSRF tokens of the browser UI.

A signed-in browser holds ``aluloop_session``: ``base64(json{key_id, csrf, exp}).hmac_sha256``,
HttpOnly and SameSite=Strict. The key itself never goes into the cookie; each request loads the
key by id and refuses a revoked one. Every form carries the session's CSRF token and a POST without
the same token is refused (the sign-in form uses a double-submit cookie, as there is no session yet).
The signing secret is ``$ALULOOP_UI_SECRET`` (set it when several workers serve the UI), else random per process.
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
_SECRET = (os.environ.get("ALULOOP_UI_SECRET") or secrets.token_hex(32)).encode()


def _sign(body: bytes) -> str:
    return hmac.new(_SECRET, body, hashlib.sha256).hexdigest()


def make(key_id: int) -> tuple[str, str]:
    """A session cookie value for ``key_id`` and its CSRF token."""
    csrf = secrets.token_urlsafe(24)
    body = base64.urlsafe_b64encode(json.dumps({"key_id": key_id, "csrf": csrf,
                                                "exp": int(time.time()) + LIFETIME_S}).encode())
    return f"{body.decode()}.{_sign(body)}", csrf


def read(value: str | None) -> dict | None:
    """The session in a cookie value, or None when it is missing, forged or expired."""
    if not value or "." not in value:
        return None
    body, _, mac = value.rpartition(".")
    if not hmac.compare_digest(_sign(body.encode()), mac):
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
