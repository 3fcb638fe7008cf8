"""The two single-piece classify routes answered straight from ASGI when a request is surely valid.

``POST /v1/pieces/classify/binary`` and ``POST /v1/pieces/classify`` are what a sorting line calls
hundreds of times a second. Through FastAPI each pays its routing, dependency solving, header
parameters and a ``Request`` object (about 0.3 ms of CPU on the 2-core machine, where the whole
binary request costs under 2 ms). :class:`DirectRoutes` answers them from the service's ASGI
middleware instead, doing the same work with the same functions:

- the key from the same cache (:data:`api.deps.KEYS`), of the route's own roles, allowed on the line;
- every header by the FastAPI route's own header parameters (their types and constraints, read off
  the route), the JSON body by the route's own fast parse (:func:`api.schemas.fast_piece`);
- classification and the record by the routes' own job (:func:`api.routes.pieces.record`),
  answered only after the commit (on the event loop with SQLite, in a worker thread with
  PostgreSQL: see :class:`DirectRoutes`); the answer is the same orjson body.

It takes a request only when every check passes. Any other request (no key or one not cached yet,
another role or line, a header missing or invalid, an unknown model, a body of the wrong length,
non-finite values, a JSON body that needs pydantic) is handed on to the FastAPI route with its body
untouched, so every error answer is the route's own, word for word. The routes stay documented in
the OpenAPI schema, and the middleware around both keeps the size limit (413), the metrics and the
access log (the direct answer names the route's template, as FastAPI's would).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import numpy as np
import orjson
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError

from api.db.keys import Principal, key_hash
from api.deps import KEYS, Roles, bearer_key
from api.routes import pieces as routes
from api.schemas import PieceIn, fast_piece, may_take_fast_path
from api.services.pieces import Piece
from blending.errors import InputError

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
BINARY_PATH = "/v1/pieces/classify/binary"
JSON_PATH = "/v1/pieces/classify"
_JSON_HEADERS = [(b"content-type", b"application/json")]


class _Header:
    """One header parameter of a FastAPI route: its name, whether it is required, its default and a
    validator built from the parameter's own annotation and constraints."""

    def __init__(self, field) -> None:
        info = field.field_info
        self.name = field.name
        self.alias = field.alias.lower()
        self.required = info.is_required()
        self.default = None if self.required else info.default
        self.adapter = TypeAdapter(Annotated[info.annotation, info])

    def read(self, headers: dict[str, str], values: dict[str, Any]) -> bool:
        """Put the header's value into ``values``; False when FastAPI would refuse it."""
        raw = headers.get(self.alias)
        if raw is None:
            values[self.name] = self.default
            return not self.required
        try:
            values[self.name] = self.adapter.validate_python(raw)
        except ValidationError:
            return False
        return True


def _route(app: FastAPI, path: str) -> APIRoute:
    # the routes of api.main.ROUTERS (an included router's routes are not listed flat on the app)
    return next(r for r in app.state.http_routes if isinstance(r, APIRoute) and r.path == path and "POST" in r.methods)


def _roles(route: APIRoute) -> tuple[str, ...]:
    found = [d.call.roles for d in route.dependant.dependencies if isinstance(d.call, Roles)]
    if len(found) != 1:
        raise RuntimeError(f"{route.path} must declare its roles once (Depends(Roles(...)))")
    return found[0]


class DirectRoutes:
    """The direct answers of one app: call it with a request; it answers (None) or hands it on.

    ``inline`` runs the classification and the record on the event loop instead of a worker thread
    (default: on SQLite). SQLite takes one writer at a time, and the job is CPU work under the GIL
    with a commit that does not wait for the disk (``synchronous=NORMAL``), so a worker thread
    overlaps nothing and its hand-off costs the request 0.03 ms on a quiet machine and far more on
    a busy one. On PostgreSQL a commit waits for the server's disk: there the job keeps its worker
    thread, so that the loop serves other requests meanwhile.
    """

    def __init__(self, app: FastAPI, *, inline: bool | None = None) -> None:
        self.state = app.state
        self.inline = app.state.engine.dialect.name == "sqlite" if inline is None else inline
        self.binary_route = _route(app, BINARY_PATH)
        self.json_route = _route(app, JSON_PATH)
        self.binary_roles = _roles(self.binary_route)
        self.json_roles = _roles(self.json_route)
        self.binary_headers = [_Header(f) for f in self.binary_route.dependant.header_params]
        # the wavelength grid of the last JSON piece (its list and array): a line sends the same grid
        # every time, and comparing two lists costs a third of reading one (0.05 against 0.13 ms)
        self._grids: list[tuple[list, np.ndarray]] = []

    def takes(self, scope: dict) -> bool:
        return scope["method"] == "POST" and scope["path"] in (BINARY_PATH, JSON_PATH)

    async def __call__(self, scope: dict, receive: Receive, send: Send) -> Receive | None:
        """Answer the request, or return the ``receive`` to hand it on with (its body replayed)."""
        messages, body = await _read(receive)
        replay = _replay(messages, receive)
        if body is None:
            return replay
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:   # the first of a repeated header, as Starlette's Headers.get
            headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
        if scope["path"] == BINARY_PATH:
            taken = self._binary(headers, body)
            route = self.binary_route
        else:
            taken = self._json(headers, body)
            route = self.json_route
        if taken is None:
            return replay
        piece, key_id = taken
        scope["route"] = route   # the metrics and the access log name the route's template
        if self.inline:
            result = routes.record(self.state, [piece], key_id)[0]
        else:
            result = (await run_in_threadpool(routes.record, self.state, [piece], key_id))[0]
        answer = orjson.dumps(result)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(answer)).encode()), *_JSON_HEADERS]})
        await send({"type": "http.response.body", "body": answer})
        return None

    def _principal(self, headers: dict[str, str], roles: tuple[str, ...], line_id: str) -> Principal | None:
        """The cached key's caller when it may call the route for ``line_id``; None: let the route decide."""
        key = bearer_key(headers.get("authorization"))
        if key is None:
            return None
        principal = KEYS.get(key_hash(key))
        if principal is None or principal.role not in roles or not principal.may_use_line(line_id):
            return None
        return principal

    def _binary(self, headers: dict[str, str], body: bytes) -> tuple[Piece, int] | None:
        values: dict[str, Any] = {}
        for header in self.binary_headers:
            if not header.read(headers, values):
                return None
        principal = self._principal(headers, self.binary_roles, values["x_line_id"])
        if principal is None:
            return None
        try:
            piece = routes.binary_piece(self.state.sorter, self.state.settings, body, piece_id=values["x_piece_id"],
                                        line_id=values["x_line_id"], captured_at=values["x_captured_at"],
                                        encoder_count=values["x_encoder_count"],
                                        belt_speed_m_s=values["x_belt_speed_m_s"], mass_kg=values["x_mass_kg"],
                                        model=values["x_model"])
        except InputError:   # the route answers it, in its own words
            return None
        return piece, principal.key_id

    def _json(self, headers: dict[str, str], body: bytes) -> tuple[Piece, int] | None:
        if not (body and routes._is_json(headers.get("content-type")) and may_take_fast_path(body)):
            return None
        try:
            parsed = fast_piece(orjson.loads(body), PieceIn, self._grids)
        except orjson.JSONDecodeError:
            return None
        if self._grids:   # shared by the pieces on that grid from now on: nobody may write to it
            self._grids[-1][1].flags.writeable = False
        if parsed is None:
            return None
        principal = self._principal(headers, self.json_roles, parsed.line_id)
        if principal is None:
            return None
        return routes._piece(parsed, parsed.line_id), principal.key_id


async def _read(receive: Receive) -> tuple[list[Message], bytes | None]:
    """Every message of the request body and the body; None for the body when the client went away."""
    messages, chunks = [], []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return messages, b"".join(chunks)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that gives ``messages`` again, then goes on with ``receive``."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
