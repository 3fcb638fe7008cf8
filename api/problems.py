"""RFC 9457 problem details: every error the service answers is ``application/problem+json``.

Each body says what went wrong in ``detail`` and, for bad input, lists ``errors`` of
``{"field", "reason"}`` where the field is the request's own name for it
(``spectrum.intensity``, ``header.x-piece-id``, ``query.limit``).
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.schemas import Problem
from blending.errors import InputError, NotFoundError

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("api.errors")
# RFC 9110's names where Python's http module still has the older ones
TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}


def title(status: int) -> str:
    return TITLES.get(status) or HTTPStatus(status).phrase


def problem(status: int, detail: str, *, errors: list[dict] | None = None, instance: str | None = None,
            headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"type": "about:blank", "title": title(status), "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def field_errors(errors) -> list[dict]:
    """pydantic's errors as ``{"field", "reason"}``: the body's fields by their own path, others by where."""
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] == "body":
            loc = loc[1:]
        field = ".".join(loc) or "body"
        reason = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        out.append({"field": field, "reason": reason})
    return out


def responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI entries for the problem answers a route may give."""
    schema = Problem.model_json_schema()
    return {s: {"description": title(s), "content": {MEDIA_TYPE: {"schema": schema}}} for s in statuses}


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route of the app serves at ``path``."""
    methods: set[str] = set()
    for route in getattr(app.state, "http_routes", ()):
        if route.path_regex.match(path):
            methods |= set(route.methods or ())
    return sorted(methods)


def install(app: FastAPI) -> None:
    """Turn validation errors, library input errors and HTTP errors into problem bodies."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = field_errors(exc.errors())
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:3])
        return problem(422, detail, errors=errors, instance=request.url.path)

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return problem(404, str(exc), errors=[{"field": exc.field or "path", "reason": exc.reason}],
                       instance=request.url.path)

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError) -> JSONResponse:
        return problem(422, str(exc), errors=[{"field": exc.field or "body", "reason": exc.reason}],
                       instance=request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            # one route per method: the router's Allow names only the first route of the path, so list them all
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
        return problem(exc.status_code, str(exc.detail), instance=request.url.path, headers=headers or None)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return problem(500, "internal error (a bug in aluloop, not in the request); see the service log",
                       instance=request.url.path)
