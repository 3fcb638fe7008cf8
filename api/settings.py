"""Service configuration: ``ALULOOP_*`` environment variables over an optional TOML file over defaults.

The TOML file is named by ``ALULOOP_CONFIG`` (or passed to :func:`load_settings`); its keys are
the field names below (``database_url = "postgresql+psycopg://..."``). Environment variables
win over the file, so one file can serve several hosts.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from blending.errors import InputError

CONFIG_ENV = "ALULOOP_CONFIG"


class Settings(BaseSettings):
    """What a service process (and ``aluloop keys``) needs to know."""

    model_config = SettingsConfigDict(env_prefix="ALULOOP_", extra="ignore")

    database_url: str = Field("sqlite:///aluloop.db", description="SQLAlchemy URL; default a SQLite file in the "
                              "working folder (WAL mode)")
    models: Path | None = Field(None, description="folder of NAME.onnx + NAME.card.json; default the bundled models")
    default_model: str | None = Field(None, description="model of the binary form when X-Model is not sent; "
                                      "default the first model by name")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64)
    onnx_threads: int | None = Field(None, ge=1, description="onnxruntime threads per process; default CPUs / workers")
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="larger request bodies get 413 [bytes]")
    max_batch_pieces: int = Field(1000, ge=1, description="pieces in one batch request")
    sqlite_synchronous: str = Field("NORMAL", pattern="^(NORMAL|FULL)$", description="NORMAL survives a killed "
                                    "process; FULL also a power cut, at an fsync per commit")
    shutdown_grace_s: float = Field(10.0, ge=0, description="time requests in flight get to finish on SIGTERM [s]")
    migrate_on_start: bool = Field(True, description="upgrade the database to the newest schema on start")
    opcua_endpoint: str | None = Field(None, description="opc.tcp://HOST:PORT of the OPC UA Machine Vision server; "
                                       "None: no OPC UA server")
    opcua_certificate: Path | None = Field(None, description="the OPC UA server's certificate (DER or PEM); with "
                                           "opcua_private_key, only the Basic256Sha256 SignAndEncrypt endpoint is "
                                           "offered, so keys never travel in the clear")
    opcua_private_key: Path | None = Field(None, description="the private key (PEM) of opcua_certificate")
    opcua_anonymous: bool = Field(False, description="let OPC UA clients in without a key (they read every line)")
    opcua_poll_s: float = Field(0.005, gt=0, le=10, description="how often the OPC UA bridge looks for new "
                                "records when there were none [s]")

    @field_validator("opcua_endpoint")
    @classmethod
    def _opc_tcp(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"opc\.tcp://[^/:\s]+:\d{1,5}(/\S*)?", value):
            raise ValueError(f"{value!r} is not opc.tcp://HOST:PORT")
        return value

    def threads(self) -> int:
        """onnxruntime intra-op threads: the CPUs shared out between the workers."""
        if self.onnx_threads:
            return self.onnx_threads
        return max(1, (os.cpu_count() or 1) // self.workers)


def load_settings(config: str | Path | None = None, **overrides: Any) -> Settings:
    """Defaults, then the TOML file (``config`` or ``$ALULOOP_CONFIG``), then ``ALULOOP_*``, then ``overrides``.

    A malformed value is an :class:`~blending.errors.InputError` naming the setting.
    """
    path = config or os.environ.get(CONFIG_ENV)
    file_values: dict[str, Any] = {}
    if path:
        try:
            file_values = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{path}: not valid TOML ({exc})", field="config") from None
    env_fields = {name for name in Settings.model_fields if f"ALULOOP_{name.upper()}" in os.environ}
    values = {k: v for k, v in file_values.items() if k not in env_fields}
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = ".".join(str(p) for p in err["loc"])
        raise InputError(f"setting {name}: {err['msg']}", field=name) from None
