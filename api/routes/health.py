"""Liveness, readiness, metrics and the models list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from api.db.engine import ping
from api.db.keys import Principal
from api.deps import Roles, SorterDep
from api.metrics import exposition
from api.problems import responses
from api.schemas import ModelOut

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses=responses(503), summary="Models loaded and the database reachable")
async def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    problems = []
    if not getattr(state, "models_loaded", False):
        problems.append({"field": "models", "reason": "not loaded yet"})
    try:
        await run_in_threadpool(ping, state.engine)
    except Exception as exc:  # any driver error means not ready; say which
        problems.append({"field": "database", "reason": f"unreachable: {type(exc).__name__}"})
    if problems:
        return JSONResponse({"type": "about:blank", "title": "Service Unavailable", "status": 503,
                             "detail": "; ".join(f"{p['field']}: {p['reason']}" for p in problems),
                             "errors": problems}, status_code=503, media_type="application/problem+json")
    return JSONResponse({"status": "ready"})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
def metrics() -> Response:
    body, content_type = exposition()
    return Response(body, media_type=content_type)


@router.get("/v1/models", response_model=list[ModelOut], responses=responses(401, 403), tags=["models"],
            summary="The models this service classifies with, and their grids (for the binary form)")
def models(sorter: SorterDep,
           _: Annotated[Principal, Depends(Roles("controller", "engineer", "quality", "admin"))]) -> list[dict]:
    out = []
    for name, (_, card) in sorter.cards.items():
        grid = card.wavelength_grid_nm
        out.append({"name": name, "sha256": card.model_sha256, "instrument": card.instrument,
                    "grid_points": len(grid), "grid_first_nm": grid[0], "grid_last_nm": grid[-1]})
    return out
