"""``aluloop keys create|list|revoke``: the service's API keys, with the same settings as ``aluloop serve``."""

from __future__ import annotations

from pathlib import Path

import typer

from aluloop.commands.serve import need_api
from aluloop.errors import user_errors

app = typer.Typer(help="API keys of the sorting service (stored hashed; a key is shown once).",
                  no_args_is_help=True)
CONFIG = typer.Option(None, "--config", help="TOML settings file (default $ALULOOP_CONFIG).")


def _sessions(config: Path | None):
    need_api()
    from api.db.engine import make_engine, session_factory, upgrade
    from api.settings import load_settings

    settings = load_settings(config)
    engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    upgrade(engine)
    return session_factory(engine)


@app.command("create")
@user_errors
def create(
    role: str = typer.Option(..., "--role", help="controller, engineer, quality or admin."),
    name: str = typer.Option("", "--name", help="Who or what uses the key (default: the role)."),
    line: list[str] = typer.Option(None, "--line", help="Line a controller key may use (repeat; default: all)."),
    config: Path = CONFIG,
) -> None:
    """Make a key; it is printed once, alone on the last line, and stored only as its sha256."""
    from api.db.keys import create_key

    with _sessions(config)() as session:
        row, key = create_key(session, role, name, line or None)
        session.commit()
        typer.echo(f"key {row.id} ({row.name}, role {row.role}) created; it is shown only this once:")
        typer.echo(key)


@app.command("list")
@user_errors
def list_(config: Path = CONFIG) -> None:
    """Every key: id, role, name, first characters, and when revoked."""
    from api.db.keys import describe, list_keys

    with _sessions(config)() as session:
        for row in list_keys(session):
            d = describe(row)
            lines = ",".join(d["lines"]) if d["lines"] else "all lines"
            state = f"revoked {d['revoked_at']}" if d["revoked_at"] else "live"
            typer.echo(f"{d['id']}\t{d['role']}\t{d['name']}\t{d['prefix']}...\t{lines}\t{state}")


@app.command("revoke")
@user_errors
def revoke(key_id: int = typer.Argument(..., help="Id of the key (aluloop keys list)."), config: Path = CONFIG) -> None:
    """Revoke a key: every process refuses it from its next request."""
    from api.db.keys import revoke_key

    with _sessions(config)() as session:
        row = revoke_key(session, key_id)
        session.commit()
        typer.echo(f"key {row.id} ({row.name}) revoked")
