"""schemathesis over the published OpenAPI schema: no 5xx, and every answer matches the schema.

Each operation is called with a key of a role it admits, so the generated requests reach the
handlers instead of stopping at 403. ``positive_data_acceptance`` is left out: the schema cannot
say that wavelengths must be strictly increasing or that the arrays must be equally long, so a
schema-valid body can rightly get 422.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from api.db.engine import upgrade
from api.db.keys import create_key
from api.main import create_app
from api.settings import load_settings
from tests.api.support import ROLES, app_routes, bearer, declared_roles

ROUTES = app_routes()
# schemathesis reads the schema when the module is collected, so the app (on its own database) is made here
FOLDER = Path(tempfile.mkdtemp(prefix="aluloop-schema-"))
APP = create_app(load_settings(database_url=f"sqlite:///{FOLDER / 'schema.db'}"))
upgrade(APP.state.engine)
with APP.state.sessions() as _session:
    KEYS = {role: create_key(_session, role, f"schemathesis {role}")[1] for role in ROLES}
    _session.commit()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def _remove_the_database():
    yield
    APP.state.engine.dispose()
    shutil.rmtree(FOLDER, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_every_operation_answers_within_its_schema(case):
    roles = declared_roles(ROUTES[(case.operation.method.upper(), case.operation.path)])
    headers = bearer(KEYS[roles[0]]) if roles else {}
    case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])
