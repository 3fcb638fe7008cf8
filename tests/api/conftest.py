"""Fixtures of the service tests: an app on a fresh SQLite file, a client, and a key of every role."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.db.keys import create_key
from api.main import create_app
from api.settings import load_settings
from tests.api.support import ROLES, Postgres, fresh_database

POSTGRES_ENV = "ALULOOP_TEST_POSTGRES_URL"


@pytest.fixture
def settings(tmp_path):
    return load_settings(database_url=f"sqlite:///{tmp_path / 'service.db'}", max_body_bytes=1024 * 1024)


@pytest.fixture
def app(settings):
    return create_app(settings)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture
def keys(app, client) -> dict[str, str]:
    """role -> key, made through the same repository the CLI uses."""
    out = {}
    with app.state.sessions() as session:
        for role in ROLES:
            out[role] = create_key(session, role, f"test {role}")[1]
        session.commit()
    return out


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a PostgreSQL server: ``$ALULOOP_TEST_POSTGRES_URL`` (CI), else a throwaway cluster."""
    url = os.environ.get(POSTGRES_ENV)
    if url:
        yield url
        return
    cluster = Postgres().start()
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_server, worker_id, request) -> str:
    """A fresh database on the PostgreSQL server for one test."""
    name = f"aluloop_{worker_id}_{request.node.name}".lower()
    return fresh_database(postgres_server, "".join(c if c.isalnum() else "_" for c in name)[:60])
