"""Helpers of the service tests: sample spectra, piece bodies, keys, a real ``aluloop serve`` process."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from functools import cache
from pathlib import Path

import httpx
from fastapi.routing import APIRoute

from api.deps import Roles
from api.main import ROUTERS
from sorter.io import read_spectrum
from sorter.spectrum import Spectrum

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_spectra"
ROLES = ("controller", "engineer", "quality", "admin")


@cache
def sample(grade: str, instrument: str = "broadband") -> Spectrum:
    """The first sample spectrum of ``grade`` on ``instrument`` (simulated, labelled by file name)."""
    return read_spectrum(next(SAMPLES.glob(f"{grade}_{instrument}_*.csv")))


def sample_grades(instrument: str = "broadband") -> list[str]:
    return sorted({p.name.split(f"_{instrument}_")[0] for p in SAMPLES.glob(f"*_{instrument}_*.csv")})


def declared_roles(route: APIRoute) -> tuple[str, ...] | None:
    """The roles a route admits (its ``Roles`` dependency), None for a public route."""
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Roles):
            return dep.call.roles
        stack.extend(dep.dependencies)
    return None


def app_routes() -> dict[tuple[str, str], APIRoute]:
    """(METHOD, path) -> route, for every HTTP route of the app's routers."""
    return {(method, r.path): r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)
            for method in r.methods}


def piece_body(spectrum: Spectrum, piece_id: str, line_id: str = "L1", **extra) -> dict:
    return {"piece_id": piece_id, "line_id": line_id, **extra,
            "spectrum": {"wavelength_nm": spectrum.wavelength_nm.tolist(), "intensity": spectrum.intensity.tolist(),
                         "instrument": spectrum.metadata.instrument}}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def aluloop_command() -> list[str]:
    """``aluloop`` of this environment (the console script beside the interpreter, else ``-m``)."""
    script = Path(sys.executable).with_name("aluloop")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from aluloop.cli import main; main()"]


def make_key(env: dict[str, str], role: str, *extra: str) -> str:
    out = subprocess.run([*aluloop_command(), "keys", "create", "--role", role, *extra], env=env,
                         capture_output=True, text=True, timeout=120, check=True)
    return out.stdout.strip().splitlines()[-1]


class Server:
    """``aluloop serve`` in its own process group on a free 127.0.0.1 port."""

    def __init__(self, env: dict[str, str], workers: int = 1, cwd: Path | None = None):
        self.env = env
        self.workers = workers
        self.cwd = cwd
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = Path(tempfile.mkstemp(prefix="aluloop-serve-", suffix=".log")[1])

    def start(self, timeout_s: float = 120.0) -> Server:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [*aluloop_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--workers", str(self.workers)], env=self.env, cwd=self.cwd, stdout=log, stderr=log,
                start_new_session=True)
        self.wait_ready(timeout_s)
        return self

    def wait_ready(self, timeout_s: float) -> None:
        """Poll /readyz until it answers 200, the process dies, or ``timeout_s`` passes."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"aluloop serve exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)   # poll interval of a bounded readiness wait, not a synchronisation
        raise TimeoutError(f"aluloop serve not ready after {timeout_s} s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        """SIGKILL every process of the server (the uvicorn supervisor and its workers)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def terminate(self, timeout_s: float = 60.0) -> int:
        os.killpg(self.proc.pid, signal.SIGTERM)
        return self.proc.wait(timeout=timeout_s)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.kill()
        if exc[0] is None:
            self.log.unlink(missing_ok=True)


def postgres_binaries() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class Postgres:
    """A throwaway PostgreSQL cluster from the Debian binaries, in a temporary folder on a free port.

    As root (a fresh CI machine) the cluster runs as the ``postgres`` user, since initdb refuses root.
    """

    def __init__(self):
        bindir = postgres_binaries()
        if bindir is None:
            raise RuntimeError("PostgreSQL tests need a server: set ALULOOP_TEST_POSTGRES_URL, or install the "
                               "Debian package (apt-get install -y postgresql) so that initdb and pg_ctl exist")
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="aluloop-pg-", dir="/tmp"))
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        os.chmod(self.dir, 0o700)

    def _run(self, *args: str, timeout_s: float = 120) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=timeout_s)

    def start(self) -> Postgres:
        data = self.dir / "data"
        self._run(str(self.bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-l", str(self.dir / "log"), "-w", "-t", "120",
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=on", "start")
        return self

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def fresh_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server of ``server_url`` (dropped first if there); its URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(server_url.replace("postgresql://", "postgresql+psycopg://", 1))
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)
