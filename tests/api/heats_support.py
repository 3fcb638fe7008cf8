"""Helpers of the lots/inventory/recipes/heats tests: an app on SQLite or PostgreSQL, and inventory rows."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.db.keys import create_key
from api.main import create_app
from api.settings import load_settings
from blending.catalogue.tables import read_csv_file
from tests.api.support import ROLES, ROOT

UBC_INVENTORY = ROOT / "examples" / "ubc_3104_inventory.csv"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'heats.db'}"
    return request.getfixturevalue("postgres_url")


def started(url: str) -> tuple[TestClient, dict[str, str]]:
    """A running app on ``url`` (entered TestClient) and role -> key."""
    app = create_app(load_settings(database_url=url, max_body_bytes=1024 * 1024))
    client = TestClient(app).__enter__()
    with app.state.sessions() as session:
        keys = {role: create_key(session, role, f"test {role}")[1] for role in ROLES}
        session.commit()
    return client, keys


def csv_rows(path=UBC_INVENTORY) -> list[dict[str, str]]:
    """The inventory CSV's rows as column -> cell, blank cells left out."""
    return [{k: v for k, v in row.values.items() if (v or "").strip()} for row in read_csv_file(path)]
