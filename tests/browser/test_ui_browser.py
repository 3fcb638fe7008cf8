"""The UI in a real browser: Playwright drives Debian's Chromium (/usr/bin/chromium, installed by
``.ci/run``'s apt-get line; nothing is downloaded at run time) against ``aluloop serve``.
Screenshots go to the test's tmp dir (``pytest --basetemp DIR`` keeps them where you want)."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.api.heats_support import csv_rows
from tests.api.support import Server, bearer, make_key

CHROMIUM = Path("/usr/bin/chromium")
RECIPE = {"alloy": "3104", "mass_kg": 20000, "confidence": 0.95, "draws": 1000, "seed": 3}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``aluloop serve`` on a fresh SQLite file with a charged, analysed heat; (url, keys, heat id)."""
    tmp = tmp_path_factory.mktemp("browser")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALULOOP_", "PROMETHEUS_"))}
    env |= {"ALULOOP_DATABASE_URL": f"sqlite:///{tmp / 'ui.db'}", "ALULOOP_THREADS": "1"}
    keys = {role: make_key(env, role) for role in ("quality", "engineer", "controller")}
    with Server(env) as server:
        eng = bearer(keys["engineer"])
        with httpx.Client(base_url=server.url, timeout=120) as http:
            for row in csv_rows():
                assert http.post("/v1/inventory", headers=eng, json=row).status_code == 201
            made = http.post("/v1/recipes", headers=eng, json=RECIPE)
            heat = http.post("/v1/heats", headers=eng, json={"recipe_id": made.headers["x-recipe-id"],
                                                             "name": "H-BROWSER-1"}).json()
            http.post(f"/v1/heats/{heat['id']}/analyses", headers=eng, json={"composition_wt_pct": {
                "Si": 0.25, "Fe": 0.45, "Cu": 0.18, "Mn": 0.95, "Mg": 1.1}})
        yield server.url, keys, heat["id"]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "install Debian's chromium (apt-get install -y chromium), as .ci/run does"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


def new_page(browser):
    """A page that waits up to 2 minutes for the server: planning a recipe or rendering a report on a busy
    2-core CI machine can take longer than Playwright's default 30 s."""
    page = browser.new_page()
    page.set_default_timeout(120_000)
    page.set_default_navigation_timeout(120_000)
    return page


def sign_in(page, url: str, key: str) -> None:
    page.goto(f"{url}/ui/login")
    page.fill("#key", key)
    page.click("#sign-in")


def test_quality_approves_a_heat_and_sees_it_after_reload(served, browser, tmp_path):
    url, keys, heat_id = served
    page = new_page(browser)
    sign_in(page, url, keys["quality"])
    assert page.url.endswith("/ui/heats")
    page.fill("input[name=q]", "browser")
    page.click("text=Filter")
    page.click("text=H-BROWSER-1")
    assert page.locator("#review-status").inner_text() == "pending"
    assert page.locator(".report svg").count() >= 1
    page.screenshot(path=str(tmp_path / "report-pending.png"), full_page=True)
    page.fill("#comment", "chemistry and certificate checked")
    page.click("#approve")
    page.reload()
    assert page.locator("#review-status").inner_text() == "approved"
    assert "chemistry and certificate checked" in page.locator("#trail").inner_text()
    assert page.locator("#approver").inner_text().startswith("approved by ")
    page.screenshot(path=str(tmp_path / "report-approved.png"), full_page=True)
    assert (tmp_path / "report-approved.png").stat().st_size > 10_000
    page.close()


def test_a_controller_key_cannot_open_the_ui(served, browser, tmp_path):
    url, keys, _ = served
    page = new_page(browser)
    sign_in(page, url, keys["controller"])
    assert "cannot open the UI" in page.locator("#error").inner_text()
    page.goto(f"{url}/ui/heats")
    assert page.url.endswith("/ui/login")
    page.screenshot(path=str(tmp_path / "controller-refused.png"))
    page.close()


def test_an_engineer_requests_a_recipe_and_sees_the_plot(served, browser, tmp_path):
    url, keys, _ = served
    page = new_page(browser)
    sign_in(page, url, keys["engineer"])
    page.goto(f"{url}/ui/recipes")
    page.fill("#mass_kg", "4000")
    page.click("#plan")
    assert "optimal" in page.locator("#status").inner_text()
    plot = page.locator("#chemistry-plot svg")
    assert plot.count() == 1 and plot.bounding_box()["width"] > 300
    page.screenshot(path=str(tmp_path / "recipe.png"), full_page=True)
    page.close()
