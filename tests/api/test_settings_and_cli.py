"""Settings from defaults, a TOML file and ALULOOP_* variables; ``aluloop keys``; migrations on an empty database."""

from __future__ import annotations

import os
import subprocess

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text

from api.db.engine import MIGRATIONS, make_engine, upgrade
from api.main import create_app
from api.settings import load_settings
from blending.errors import InputError
from tests.api.support import aluloop_command, bearer


def test_environment_wins_over_the_file_and_arguments_over_both(tmp_path, monkeypatch):
    config = tmp_path / "service.toml"
    config.write_text('database_url = "sqlite:///from-file.db"\nport = 9001\nworkers = 4\n')
    monkeypatch.setenv("ALULOOP_PORT", "9002")
    s = load_settings(config)
    assert (s.database_url, s.port, s.workers) == ("sqlite:///from-file.db", 9002, 4)
    assert load_settings(config, port=9003).port == 9003
    monkeypatch.setenv("ALULOOP_CONFIG", str(config))
    assert load_settings().workers == 4


def test_onnx_threads_share_the_cpus_between_workers(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert load_settings(workers=4).threads() == 4
    assert load_settings(workers=32).threads() == 1
    assert load_settings(workers=4, onnx_threads=2).threads() == 2


def test_a_bad_setting_names_itself(tmp_path, monkeypatch):
    monkeypatch.setenv("ALULOOP_WORKERS", "many")
    with pytest.raises(InputError, match="setting workers"):
        load_settings()
    bad = tmp_path / "bad.toml"
    bad.write_text("port = [")
    monkeypatch.delenv("ALULOOP_WORKERS")
    with pytest.raises(InputError, match="not valid TOML"):
        load_settings(bad)


def test_the_default_database_is_a_sqlite_file_in_wal_mode_in_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.database_url == "sqlite:///aluloop.db"
    engine = make_engine(s.database_url)
    upgrade(engine)
    with engine.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()
    assert (tmp_path / "aluloop.db").exists()


def head_revision() -> str:
    """The newest migration of api/db/migrations (each migration moves it on)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def test_the_server_migrates_an_empty_database_and_a_second_upgrade_changes_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with TestClient(create_app(load_settings(database_url=url))) as client:
        assert client.get("/readyz").status_code == 200
    engine = make_engine(url)
    tables = set(inspect(engine).get_table_names())
    assert {"api_keys", "piece_records", "line_rules", "alembic_version"} <= tables
    upgrade(engine)
    with engine.connect() as c:
        assert c.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head_revision()]
    engine.dispose()


def test_readyz_says_when_the_database_is_unreachable(tmp_path):
    app = create_app(load_settings(database_url=f"sqlite:///{tmp_path / 'gone' / 'x.db'}", migrate_on_start=False))
    with TestClient(app) as client:
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["errors"][0]["field"] == "database"
        assert client.get("/healthz").status_code == 200


def keys_cli(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*aluloop_command(), "keys", *args], env=env, capture_output=True, text=True, timeout=120)


def test_keys_cli_prints_the_key_once_stores_only_its_hash_and_revokes(tmp_path):
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALULOOP_")} | {"ALULOOP_DATABASE_URL": url}
    made = keys_cli(env, "create", "--role", "quality", "--name", "lab")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    assert key.startswith("alu_") and " " not in key
    listed = keys_cli(env, "list")
    assert "quality" in listed.stdout and "lab" in listed.stdout and key not in listed.stdout
    engine = make_engine(url)
    with engine.connect() as c:
        stored = " ".join(str(v) for row in c.execute(text("SELECT * FROM api_keys")).all() for v in row)
    engine.dispose()
    assert key not in stored
    with TestClient(create_app(load_settings(database_url=url))) as client:
        assert client.get("/v1/pieces", params={"line_id": "L1"}, headers=bearer(key)).status_code == 200
        assert keys_cli(env, "revoke", "1").returncode == 0
        assert client.get("/v1/pieces", params={"line_id": "L1"}, headers=bearer(key)).status_code == 401
    wrong = keys_cli(env, "create", "--role", "boss")
    assert wrong.returncode == 2 and "--role" in wrong.stderr and "controller" in wrong.stderr
    missing = keys_cli(env, "revoke", "99")
    assert missing.returncode == 2 and "no key 99" in missing.stderr
