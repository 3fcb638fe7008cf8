"""``/v1/pieces``: classify one piece (JSON or binary), a batch, a line's WebSocket stream; page the records."""

from __future__ import annotations

import email.message
import functools
import json
from datetime import datetime
from typing import Annotated

import numpy as np
import orjson
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from api.db.keys import Principal
from api.deps import Roles, SessionDep, SettingsDep, SorterDep, check_line, principal_for
from api.problems import field_errors, responses
from api.schemas import (
    LINE_ID,
    BatchIn,
    BatchResult,
    LinePieceIn,
    PieceIn,
    PiecePage,
    PieceResult,
    fast_batch,
    fast_piece,
    inline_schema,
    may_take_fast_path,
)
from api.services.pieces import Piece, classify_pieces, page
from blending.errors import InputError, NotFoundError

router = APIRouter(prefix="/v1", tags=["pieces"])
CONTROLLER = Roles("controller")
READERS = Roles("controller", "quality")
ERRORS = responses(400, 401, 403, 413, 422)


def _piece(p: PieceIn | LinePieceIn, line_id: str) -> Piece:
    wl, it = p.spectrum.arrays
    return Piece(piece_id=p.piece_id, line_id=line_id, wavelength_nm=wl, intensity=it,
                 instrument=p.spectrum.instrument, captured_at=p.captured_at, encoder_count=p.encoder_count,
                 belt_speed_m_s=p.belt_speed_m_s, mass_kg=p.mass_kg)


_GRIDS: dict[int, tuple[object, np.ndarray]] = {}


def model_grid(card) -> np.ndarray:
    """A model card's wavelength grid as a read-only array, made once per card (not per request)."""
    cached = _GRIDS.get(id(card))
    if cached is None or cached[0] is not card:
        grid = np.asarray(card.wavelength_grid_nm, dtype=np.float64)
        grid.flags.writeable = False
        cached = _GRIDS[id(card)] = (card, grid)
    return cached[1]


def json_response(body: object) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def record(state, pieces: list[Piece], key_id: int) -> list[dict]:
    """Classify and record ``pieces`` in a session of their own, with the app's ``state`` (its
    sessions and Sorter); run in a worker thread."""
    with state.sessions() as session:
        return classify_pieces(session, state.sorter, pieces, key_id)


def _record(request: Request, pieces: list[Piece], key_id: int) -> list[dict]:
    return record(request.app.state, pieces, key_id)


@functools.lru_cache(maxsize=256)
def _is_json(content_type: str | None) -> bool:
    """FastAPI's test: application/json or application/*+json (an email parser per call: kept per
    distinct header value, as a client sends the same one every time)."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def _body_errors(exc: ValidationError) -> RequestValidationError:
    return RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])


async def json_body(request: Request, model: type[BaseModel], fast) -> BaseModel:
    """The request body as ``model``: orjson and numpy when it is surely valid (``fast``), else exactly
    what FastAPI does for a body parameter (standard json, then pydantic), with FastAPI's errors."""
    body = await request.body()
    json_type = _is_json(request.headers.get("content-type"))
    if json_type and body and may_take_fast_path(body):
        try:
            parsed = fast(orjson.loads(body))
        except orjson.JSONDecodeError:
            parsed = None
        if parsed is not None:
            return parsed
    value: object = None
    if body:
        value = body
        if json_type:
            try:
                value = json.loads(body)
            except json.JSONDecodeError as e:
                raise RequestValidationError([{"type": "json_invalid", "loc": ("body", e.pos), "msg": "JSON decode "
                                               "error", "input": {}, "ctx": {"error": e.msg}}], body=e.doc) from None
            except Exception:
                raise HTTPException(400, "There was an error parsing the body") from None
    if value is None:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}])
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise _body_errors(exc) from None


def _json_request(model: type[BaseModel]) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": inline_schema(model)}}}}


@router.post("/pieces/classify", response_model=PieceResult, responses=ERRORS, openapi_extra=_json_request(PieceIn),
             summary="Classify one piece and record it (idempotent on line_id and piece_id)")
async def classify(request: Request, principal: Annotated[Principal, Depends(CONTROLLER)]) -> Response:
    piece = await json_body(request, PieceIn, lambda data: fast_piece(data, PieceIn))
    check_line(principal, piece.line_id)
    return json_response((await run_in_threadpool(_record, request, [_piece(piece, piece.line_id)],
                                                  principal.key_id))[0])


@router.post("/pieces/classify/batch", response_model=BatchResult, responses=ERRORS,
             openapi_extra=_json_request(BatchIn), summary="Classify and record many pieces in one transaction")
async def classify_batch(request: Request, settings: SettingsDep,
                         principal: Annotated[Principal, Depends(CONTROLLER)]) -> Response:
    batch = await json_body(request, BatchIn, fast_batch)
    if len(batch.pieces) > settings.max_batch_pieces:
        raise InputError(f"{len(batch.pieces)} pieces; at most {settings.max_batch_pieces} in one batch",
                         field="pieces")
    for p in batch.pieces:
        check_line(principal, p.line_id)
    items = await run_in_threadpool(_record, request, [_piece(p, p.line_id) for p in batch.pieces], principal.key_id)
    return json_response({"items": items})


BINARY_BODY = {"requestBody": {"required": True, "description": "float32 little-endian intensities on the "
                               "model's wavelength grid (GET /v1/models gives its points)",
                               "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                   "format": "binary"}}}}}


@router.post("/pieces/classify/binary", response_model=PieceResult,
             responses=responses(401, 403, 404, 413, 422), openapi_extra=BINARY_BODY,
             summary="Classify one piece sent as float32 intensities on the model's grid; ids in headers")
async def classify_binary(
        request: Request, sorter: SorterDep, settings: SettingsDep,
        principal: Annotated[Principal, Depends(CONTROLLER)],
        x_piece_id: Annotated[str, Header(min_length=1, max_length=200)],
        x_line_id: Annotated[str, Header(min_length=1, max_length=100, pattern=LINE_ID)],
        x_captured_at: Annotated[datetime | None, Header()] = None,
        x_encoder_count: Annotated[int | None, Header(ge=0, le=2**62)] = None,
        x_belt_speed_m_s: Annotated[float | None, Header(ge=0, le=100, allow_inf_nan=False)] = None,
        x_mass_kg: Annotated[float | None, Header(ge=0, le=10_000, allow_inf_nan=False)] = None,
        x_model: Annotated[str | None, Header(max_length=200)] = None) -> Response:
    check_line(principal, x_line_id)
    piece = binary_piece(sorter, settings, await request.body(), piece_id=x_piece_id, line_id=x_line_id,
                         captured_at=x_captured_at, encoder_count=x_encoder_count, belt_speed_m_s=x_belt_speed_m_s,
                         mass_kg=x_mass_kg, model=x_model)
    result = await run_in_threadpool(_record, request, [piece], principal.key_id)
    return json_response(result[0])


def binary_piece(sorter, settings, body: bytes, *, piece_id: str, line_id: str, captured_at: datetime | None,
                       encoder_count: int | None, belt_speed_m_s: float | None, mass_kg: float | None,
                       model: str | None) -> Piece:
    """The piece of a binary classify request (header values already typed, ``body`` the float32
    intensities), or the InputError / NotFoundError naming what is wrong.
    The route and its direct answer (``api.direct``) both read a request through this."""
    if captured_at is not None and captured_at.tzinfo is None:
        raise InputError("give a time zone (e.g. 2026-12-06T20:00:00Z)", field="header.x-captured-at")
    model = model or settings.default_model or sorter.model_names[0]
    if model not in sorter.cards:
        raise NotFoundError(f"no model {model!r} (there are: {', '.join(sorter.cards)})", field="header.x-model")
    card = sorter.cards[model][1]
    grid = model_grid(card)
    if len(body) != 4 * grid.size:
        raise InputError(f"{len(body)} bytes; the model {model} needs {grid.size} float32 values "
                         f"({4 * grid.size} bytes)", field="body")
    intensity = np.frombuffer(body, dtype="<f4").astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(intensity))
    if bad.size:
        raise InputError(f"value {int(bad[0])} is {intensity[bad[0]]}; every intensity must be finite", field="body")
    return Piece(piece_id=piece_id, line_id=line_id, wavelength_nm=grid, intensity=intensity,
                 instrument=card.instrument, captured_at=captured_at, encoder_count=encoder_count,
                 belt_speed_m_s=belt_speed_m_s, mass_kg=mass_kg, model=model)


BINARY_BATCH_BODY = {"requestBody": {"required": True, "description": "n x grid points float32 little-endian "
                                     "intensities, piece after piece, on the model's wavelength grid",
                                     "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                         "format": "binary"}}}}}
PIECE_IDS = r"^[^,]{1,200}(,[^,]{1,200})*$"


@router.post("/pieces/classify/batch/binary", response_model=BatchResult, openapi_extra=BINARY_BATCH_BODY,
             responses=responses(401, 403, 404, 413, 422),
             summary="Classify many pieces of one line sent as float32 rows on the model's grid; ids in a header")
async def classify_batch_binary(
        request: Request, sorter: SorterDep, settings: SettingsDep,
        principal: Annotated[Principal, Depends(CONTROLLER)],
        x_line_id: Annotated[str, Header(min_length=1, max_length=100, pattern=LINE_ID)],
        x_piece_ids: Annotated[str, Header(min_length=1, pattern=PIECE_IDS,
                                           description="comma-separated piece ids, one per row")],
        x_model: Annotated[str | None, Header(max_length=200)] = None) -> Response:
    check_line(principal, x_line_id)
    piece_ids = x_piece_ids.split(",")
    if len(piece_ids) > settings.max_batch_pieces:
        raise InputError(f"{len(piece_ids)} pieces; at most {settings.max_batch_pieces} in one batch",
                         field="header.x-piece-ids")
    model = x_model or settings.default_model or sorter.model_names[0]
    if model not in sorter.cards:
        raise NotFoundError(f"no model {model!r} (there are: {', '.join(sorter.cards)})", field="header.x-model")
    card = sorter.cards[model][1]
    grid = model_grid(card)
    body = await request.body()
    if len(body) != 4 * grid.size * len(piece_ids):
        raise InputError(f"{len(body)} bytes; {len(piece_ids)} pieces on the grid of {model} need "
                         f"{4 * grid.size * len(piece_ids)} ({grid.size} float32 values each)", field="body")
    rows = np.frombuffer(body, dtype="<f4").reshape(len(piece_ids), grid.size).astype(np.float64)
    bad = np.argwhere(~np.isfinite(rows))
    if bad.size:
        i, j = (int(v) for v in bad[0])
        raise InputError(f"piece {i} ({piece_ids[i]}), value {j} is {rows[i, j]}; every intensity must be finite",
                         field="body")
    pieces = [Piece(piece_id=pid, line_id=x_line_id, wavelength_nm=grid, intensity=rows[i],
                    instrument=card.instrument, model=model) for i, pid in enumerate(piece_ids)]
    items = await run_in_threadpool(_record, request, pieces, principal.key_id)
    return json_response({"items": items})


@router.get("/pieces", response_model=PiecePage, responses=responses(401, 403, 422),
            summary="A line's piece records, oldest first, a page at a time")
def list_pieces(session: SessionDep, principal: Annotated[Principal, Depends(READERS)],
                line_id: Annotated[str, Query(min_length=1, max_length=100, pattern=LINE_ID)],
                limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                after: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$",
                                                   description="the next cursor of the page before")] = None,
                ) -> Response:
    check_line(principal, line_id)
    items, cursor = page(session, line_id, limit, int(after) if after is not None else None)
    return json_response({"items": items, "next": cursor})


@router.websocket("/lines/{line_id}/stream")
async def stream(websocket: WebSocket, line_id: str) -> None:
    """A line's open connection: each text message a piece (JSON, no line_id), each answer its result.

    A malformed message is answered with ``{"problem": {...}}`` and the connection stays open.
    """
    app = websocket.app
    try:
        principal = principal_for(app.state.sessions, websocket.headers.get("authorization"), CONTROLLER.roles)
        check_line(principal, line_id)
    except HTTPException as exc:
        await websocket.close(code=1008, reason=str(exc.detail)[:120])
        return
    await websocket.accept()
    try:
        while True:
            text = await websocket.receive_text()
            try:
                piece = _ws_piece(text)
            except ValidationError as exc:
                errors = field_errors(exc.errors())
                await websocket.send_text(json.dumps({"problem": {
                    "type": "about:blank", "title": "Unprocessable Content", "status": 422,
                    "detail": "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:3]), "errors": errors}}))
                continue
            result = await run_in_threadpool(_classify_one, app, _piece(piece, line_id), principal.key_id)
            await websocket.send_text(orjson.dumps(result).decode())
    except WebSocketDisconnect:
        return


def _classify_one(app, piece: Piece, key_id: int) -> dict:
    with app.state.sessions() as session:
        return classify_pieces(session, app.state.sorter, [piece], key_id)[0]


def _ws_piece(text: str) -> LinePieceIn:
    """A stream message as a piece: the fast path when it is surely valid, else pydantic's own."""
    raw = text.encode()
    if may_take_fast_path(raw):
        try:
            piece = fast_piece(orjson.loads(raw), LinePieceIn)
        except orjson.JSONDecodeError:
            piece = None
        if piece is not None:
            return piece
    return LinePieceIn.model_validate_json(text)
