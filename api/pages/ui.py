"""``/ui``: sign in with an API key, heats with a status filter and search, a heat's report with
approve/reject, downloads, and a recipe page for engineers. Pages are Jinja2 templates rendered on
the server; the only script is none. Roles are those of the API: quality and engineer may open the
UI, only quality may review, only engineers may request recipes; controller and admin keys are refused.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.db.keys import Principal, authenticate
from api.db.tables import ApiKey
from api.pages import session as cookies
from api.reports import approval, render
from api.schemas_heats import RecipeIn
from api.services import heats, recipes
from blending.errors import AluloopError


def _secret(request: Request) -> bytes:
    app = request.app
    if getattr(app.state, "ui_secret", None) is None:   # once per process; every worker reads the same row
        app.state.ui_secret = cookies.shared_secret(app.state.engine)
    return app.state.ui_secret


router = APIRouter(prefix="/ui", include_in_schema=False)
UI_ROLES = ("quality", "engineer")
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(("html",)))


def _page(name: str, status_code: int = 200, **context) -> HTMLResponse:
    return HTMLResponse(_env.get_template(name).render(**context), status_code=status_code)


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}


def _principal(request: Request) -> tuple[Principal, str] | None:
    """The signed-in principal and the session's CSRF token; None without a live session."""
    data = cookies.read(_secret(request), request.cookies.get(cookies.COOKIE))
    if data is not None:
        with request.app.state.sessions() as s:
            row = s.get(ApiKey, int(data["key_id"]))
            if row is not None and row.revoked_at is None and row.role in UI_ROLES:
                return Principal(row.id, row.name, row.role), data["csrf"]
    return None


def _to_login() -> RedirectResponse:
    return RedirectResponse("/ui/login", status_code=303)


def _csrf_refused(token: str, form: dict[str, str]) -> HTMLResponse | None:
    if cookies.same_token(token, form.get("csrf")):
        return None
    return _page("error.html", 403, me=None, csrf="",
                 message="the form's CSRF token is missing or wrong; reload the page")


async def _posted(request: Request):
    """(principal, CSRF token, form) of a signed-in POST whose form carries the session's token; else the
    answer to give: the sign-in page, or 403 for a missing or wrong token."""
    who = _principal(request)
    if who is None:
        return _to_login()
    principal, csrf = who
    form = await _form(request)
    refused = _csrf_refused(csrf, form)
    return refused if refused is not None else (principal, csrf, form)


@router.get("/login")
def login_page() -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    page = _page("login.html", csrf=token, error=None)
    page.set_cookie(cookies.LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict")
    return page


@router.post("/login")
async def login(request: Request) -> Response:
    form = await _form(request)
    if not cookies.same_token(request.cookies.get(cookies.LOGIN_CSRF_COOKIE), form.get("csrf")):
        return _page("login.html", 403, csrf="", error="the sign-in form expired; reload the page")
    with request.app.state.sessions() as s:
        principal = authenticate(s, form.get("key", "").strip())
    token = request.cookies.get(cookies.LOGIN_CSRF_COOKIE)
    if principal is None:
        return _page("login.html", 401, csrf=token, error="unknown or revoked key")
    if principal.role not in UI_ROLES:
        return _page("login.html", 403, csrf=token,
                     error=f"a {principal.role} key cannot open the UI; it needs a quality or engineer key")
    value, _ = cookies.make(_secret(request), principal.key_id)
    out = RedirectResponse("/ui/heats", status_code=303)
    out.set_cookie(cookies.COOKIE, value, httponly=True, samesite="strict", max_age=cookies.LIFETIME_S)
    out.delete_cookie(cookies.LOGIN_CSRF_COOKIE)
    return out


@router.post("/logout")
async def logout(request: Request) -> Response:
    who = _principal(request)
    if who is None:
        return _to_login()
    _, csrf = who
    refused = _csrf_refused(csrf, await _form(request))
    if refused is not None:
        return refused
    out = RedirectResponse("/ui/login", status_code=303)
    out.delete_cookie(cookies.COOKIE)
    return out


@router.get("/heats")
def heat_list(request: Request, status: str = "", q: str = "") -> Response:
    who = _principal(request)
    if who is None:
        return _to_login()
    principal, csrf = who
    with request.app.state.sessions() as s:
        items = heats.list_heats(s, status if status in ("charged", "closed") else None, 1000)
    if q:
        items = [h for h in items if q.lower() in h["name"].lower() or q == h["id"]]
    return _page("heats.html", me=principal, csrf=csrf, heats=items, status=status, q=q)


@router.get("/heats/{heat_id}")
async def heat_page(request: Request, heat_id: int) -> Response:
    who = _principal(request)
    if who is None:
        return _to_login()
    principal, csrf = who
    with request.app.state.sessions() as s:
        try:
            report = await run_in_threadpool(approval.current, s, heat_id)
        except AluloopError as exc:
            return _page("error.html", 404, me=principal, csrf=csrf, message=str(exc))
        body = await run_in_threadpool(render.html, report, standalone=False)
    return _page("heat.html", me=principal, csrf=csrf, r=report, body=body)


@router.post("/heats/{heat_id}/review")
async def review(request: Request, heat_id: int) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    principal, csrf, form = posted
    if principal.role != "quality":
        return _page("error.html", 403, me=principal, csrf=csrf, message="only a quality key may approve or reject")
    decision = {"approve": "approved", "reject": "rejected"}.get(form.get("decision", ""))
    if decision is None:
        return _page("error.html", 422, me=principal, csrf=csrf, message="decision must be approve or reject")
    with request.app.state.sessions() as s:
        try:
            await run_in_threadpool(approval.review, s, heat_id, decision, form.get("comment", "")[:4000], principal)
        except HTTPException as exc:     # e.g. 409: this revision is approved and frozen
            return _page("error.html", exc.status_code, me=principal, csrf=csrf, message=str(exc.detail))
    return RedirectResponse(f"/ui/heats/{heat_id}", status_code=303)


@router.get("/heats/{heat_id}/report.{fmt}")
async def download(request: Request, heat_id: int, fmt: str) -> Response:
    if _principal(request) is None:
        return _to_login()
    if fmt not in ("json", "pdf", "csv", "html"):
        raise HTTPException(404, "no such format")
    with request.app.state.sessions() as s:
        report = await run_in_threadpool(approval.current, s, heat_id)
    name = {"Content-Disposition": f'attachment; filename="heat-{heat_id}-report.{fmt}"'}
    if fmt == "pdf":
        return Response(await run_in_threadpool(render.pdf, report), media_type="application/pdf", headers=name)
    if fmt == "csv":
        return Response(render.csv_text(report), media_type="text/csv; charset=utf-8", headers=name)
    if fmt == "html":
        return HTMLResponse(await run_in_threadpool(render.html, report))
    import json

    return Response(json.dumps(report, indent=1), media_type="application/json", headers=name)


@router.get("/recipes")
def recipe_page(request: Request) -> Response:
    who = _principal(request)
    if who is None:
        return _to_login()
    principal, csrf = who
    return _page("recipe.html", me=principal, csrf=csrf, result=None, svg=None, error=None,
                 asked={"alloy": "3104", "mass_kg": "20000", "confidence": "0.95"})


def _recipe_svg(result: dict, spec) -> str:
    mean, sd = result.get("composition_wt_pct") or {}, result.get("composition_sd_wt_pct") or {}
    chemistry = []
    for name, lim in spec.limits.items():
        if not all(e in mean for e in lim.elements):
            continue
        pred = sum(mean[e] for e in lim.elements)
        psd = sum(sd.get(e, 0.0) ** 2 for e in lim.elements) ** 0.5
        chemistry.append({"name": name, "min_wt_pct": lim.min_wt_pct, "max_wt_pct": lim.max_wt_pct,
                          "predicted_wt_pct": pred, "predicted_interval_wt_pct": [pred - 1.96 * psd, pred + 1.96 * psd],
                          "measured_wt_pct": []})
    return render.chemistry_svg({"heat_number": "recipe", "alloy": spec.name, "chemistry": chemistry})


@router.post("/recipes")
async def request_recipe(request: Request) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    principal, csrf, form = posted
    asked = {k: form.get(k, "") for k in ("alloy", "mass_kg", "confidence")}
    if principal.role != "engineer":
        return _page("recipe.html", 403, me=principal, csrf=csrf, result=None, svg=None, asked=asked,
                     error="only an engineer key may request recipes")
    try:
        body = RecipeIn.model_validate({"alloy": asked["alloy"], "mass_kg": float(asked["mass_kg"]),
                                        "confidence": float(asked["confidence"])})
        with request.app.state.sessions() as s:
            recipe_id, result = await run_in_threadpool(recipes.create, s, body, principal.key_id)
        svg = _recipe_svg(result, recipes.spec_of(body)) if result.get("status") == "optimal" else None
        pareto = None
        if svg is not None and form.get("pareto"):
            with request.app.state.sessions() as s:
                pareto = await run_in_threadpool(_pareto_svg, s, body)
    except (AluloopError, ValueError) as exc:
        return _page("recipe.html", 422, me=principal, csrf=csrf, result=None, svg=None, asked=asked, error=str(exc))
    return _page("recipe.html", me=principal, csrf=csrf, result=result, recipe_id=recipe_id, svg=svg, asked=asked,
                 error=None, pareto=pareto)


def _pareto_svg(session, body: RecipeIn) -> str:
    """Recycled content against cost and CO2e over the stock on hand (``aluloop pareto``'s front), as SVG."""
    import tempfile

    from api.services.inventory import lots_on_hand
    from blending.pareto import plot_pareto
    from blending.plan import ParetoRequest, plan_pareto

    front = plan_pareto(ParetoRequest(spec=recipes.spec_of(body), mass_kg=body.mass_kg, lots=lots_on_hand(session),
                                      points=12, joint_confidence=body.confidence))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pareto.svg"
        plot_pareto(front, path)
        svg = path.read_text(encoding="utf-8")
    return svg[svg.index("<svg"):]
