"""The rest of ``aluloop demo``: a simulated belt through the service to a heat report.

Runs the service in-process (FastAPI's TestClient) on an embedded SQLite file in the output
folder, so the same database can then be served (``aluloop serve``) and opened in the browser:
simulate a belt of pieces, classify and record them, close their lots, register the example
inventory beside them, plan a 3104 recipe at 95% joint confidence, charge a heat, simulate its OES
analysis from the recipe's predicted chemistry and spread, trim, and write ``report.html`` and
``report.pdf``. Needs the service's extras (``pip install -e '.[api]'``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

BELT_MIX = {"3104": 0.55, "5182": 0.25, "3003": 0.20}
LINE = "DEMO"
STEPS = 9


def missing_extras() -> str | None:
    """The first module of the service's extras that is not installed, else None."""
    import importlib.util

    for name in ("fastapi", "sqlalchemy", "httpx", "jinja2", "weasyprint"):
        if importlib.util.find_spec(name) is None:
            return name
    return None


def run_chain(out: Path, inventory: Path, alloy: str, mass_kg: float, pieces: int, seed: int = 11,
              console=None) -> dict:
    """The whole chain; returns paths, keys and figures for the summary."""
    import warnings

    with warnings.catch_warnings():   # starlette's note on its httpx transport is not for demo users
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from api.db.keys import create_key
    from api.main import create_app
    from api.reports import approval, render
    from api.settings import load_settings
    from blending.catalogue.tables import read_csv_file
    from sorter.simulate import simulate_batch

    out.mkdir(parents=True, exist_ok=True)
    db = out / "aluloop-demo.db"
    db.unlink(missing_ok=True)
    url = f"sqlite:///{db}"
    rng = np.random.default_rng(seed)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=False) as progress:
        task = progress.add_task("starting the service on the demo database", total=STEPS)
        app = create_app(load_settings(database_url=url, max_body_bytes=64 * 1024 * 1024))
        with TestClient(app) as client:
            with app.state.sessions() as s:
                keys = {role: create_key(s, role, f"demo {role}")[1]
                        for role in ("controller", "engineer", "quality", "admin")}
                s.commit()
            auth = {role: {"Authorization": f"Bearer {k}"} for role, k in keys.items()}
            _ok(client.put(f"/v1/lines/{LINE}/rules", headers=auth["admin"], json={"piece_mass_kg": 0.5}))
            progress.advance(task)

            progress.update(task, description=f"simulating and classifying a belt of {pieces} pieces")
            counts = rng.multinomial(pieces, list(BELT_MIX.values()))
            n_sent = 0
            for j, (grade, n) in enumerate(zip(BELT_MIX, counts, strict=True)):
                if n == 0:
                    continue
                batch = simulate_batch([grade], int(n), "broadband", seed * 10 + j)
                mass = rng.lognormal(math.log(0.5), 0.5, int(n))
                body = [{"piece_id": f"{grade}-{i}", "line_id": LINE, "mass_kg": float(mass[i]),
                         "spectrum": {"wavelength_nm": batch.wavelength_nm.tolist(),
                                      "intensity": batch.intensity[i].tolist(), "instrument": "broadband"}}
                        for i in range(int(n))]
                for start in range(0, len(body), 100):
                    _ok(client.post("/v1/pieces/classify/batch", headers=auth["controller"],
                                    json={"pieces": body[start:start + 100]}))
                n_sent += int(n)
            progress.advance(task)

            progress.update(task, description="closing the lots")
            lots = client.get(f"/v1/lots?line_id={LINE}&status=open", headers=auth["engineer"]).json()["items"]
            closed = [_ok(client.post(f"/v1/lots/{lot['id']}/close", headers=auth["engineer"])) for lot in lots]
            progress.advance(task)

            progress.update(task, description=f"registering {inventory.name}")
            for row in read_csv_file(inventory):
                cells = {k: v for k, v in row.values.items() if (v or "").strip()}
                _ok(client.post("/v1/inventory", headers=auth["engineer"], json=cells))
            progress.advance(task)

            progress.update(task, description=f"planning {mass_kg:,.0f} kg of {alloy} at 95% joint confidence")
            made = client.post("/v1/recipes", headers=auth["engineer"],
                               json={"alloy": alloy, "mass_kg": mass_kg, "confidence": 0.95, "seed": seed})
            recipe = _ok(made)
            progress.advance(task)

            progress.update(task, description="charging the heat")
            heat = _ok(client.post("/v1/heats", headers=auth["engineer"],
                                   json={"recipe_id": made.headers["x-recipe-id"], "name": "DEMO-0001"}))
            progress.advance(task)

            progress.update(task, description="simulating the melt's OES analysis")
            sd = recipe["composition_sd_wt_pct"]
            melt = {e: max(0.0, v + float(rng.normal(0, sd.get(e, 0.0))))
                    for e, v in recipe["composition_wt_pct"].items() if e != "Al"}
            _ok(client.post(f"/v1/heats/{heat['id']}/analyses", headers=auth["engineer"],
                            json={"composition_wt_pct": melt}))
            progress.advance(task)

            progress.update(task, description="trimming")
            trim = _ok(client.post(f"/v1/heats/{heat['id']}/trim", headers=auth["engineer"],
                                   json={"capacity_kg": 1.25 * mass_kg}))
            progress.advance(task)

            progress.update(task, description="writing the heat report")
            with app.state.sessions() as s:
                report = approval.current(s, int(heat["id"]))
            (out / "report.html").write_text(render.html(report), encoding="utf-8")
            (out / "report.pdf").write_bytes(render.pdf(report))
            progress.advance(task)
    (out / "demo-keys.txt").write_text("".join(f"{role} {k}\n" for role, k in keys.items()), encoding="utf-8")
    return {"db": db, "pieces": n_sent, "lots": len(closed), "report": report, "trim": trim.get("result", {}),
            "html": out / "report.html", "pdf": out / "report.pdf", "keys": out / "demo-keys.txt",
            "quality_key": keys["quality"]}


def _ok(response) -> dict:
    if response.status_code >= 300:
        from blending.errors import AluloopError

        raise AluloopError(f"demo step {response.request.method} {response.request.url.path} answered "
                           f"{response.status_code}: {response.text[:500]}")
    return response.json()
