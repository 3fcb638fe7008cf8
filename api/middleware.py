"""One ASGI layer around the app: request size limit (413), latency histogram, the access log, and
the direct answers of the hot routes (``api.direct``) inside all three.

Written as plain ASGI rather than Starlette's BaseHTTPMiddleware, which costs a task per request.
A body announced larger than the limit is refused before it is read; a body without a length
(chunked) is read up to the limit and refused when it goes past it, before the app sees any of it.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

from api.metrics import IN_FLIGHT, REQUEST_SECONDS, child

access_log = logging.getLogger("api.access")


def _problem_413(limit: int) -> tuple[dict, bytes]:
    body = json.dumps({"type": "about:blank", "title": "Content Too Large", "status": 413,
                       "detail": f"request body is larger than the {limit} bytes allowed (setting max_body_bytes)",
                       "errors": [{"field": "body", "reason": f"more than {limit} bytes"}]}).encode()
    start = {"type": "http.response.start", "status": 413,
             "headers": [(b"content-type", b"application/problem+json"),
                         (b"content-length", str(len(body)).encode()), (b"connection", b"close")]}
    return start, body


class ServiceMiddleware:
    def __init__(self, app, max_body_bytes: int, direct=None):
        self.app = app
        self.max_body_bytes = max_body_bytes
        # api.direct.DirectRoutes: the hot routes answered here when a request is surely valid
        self.direct = direct

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        IN_FLIGHT.inc()

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            receive_body = await self._limited(scope, receive)
            if receive_body is None:
                start, body = _problem_413(self.max_body_bytes)
                await send_status(start)
                await send({"type": "http.response.body", "body": body})
            else:
                if self.direct is not None and self.direct.takes(scope):
                    receive_body = await self.direct(scope, receive_body, send_status)
                    if receive_body is None:   # answered
                        return
                await self.app(scope, receive_body, send_status)
        finally:
            IN_FLIGHT.dec()
            elapsed_s = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            child(REQUEST_SECONDS, scope["method"], template, str(status)).observe(elapsed_s)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(json.dumps({
                    "ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "method": scope["method"],
                    "path": scope["path"], "route": template, "status": status,
                    "duration_ms": round(elapsed_s * 1000.0, 3),
                    "client": scope["client"][0] if scope.get("client") else None}))

    async def _limited(self, scope, receive):
        """``receive`` for the app, or None when the body is over the limit."""
        length = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = None
                break
        if length is not None:
            return None if length > self.max_body_bytes else receive
        if scope["method"] in ("GET", "HEAD", "DELETE", "OPTIONS"):
            return receive
        # no length: read the body here, up to the limit, and hand it on whole
        chunks, total = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return receive
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay
