"""Run the ``aluloop`` command of the checkout under test in a real process.

``sys.executable -m aluloop.cli`` with the checkout first on ``PYTHONPATH``: never whatever
``aluloop`` the PATH holds (another virtual environment, an older install), so a CLI test
passes or fails on the code it is meant to test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]


def checkout_env() -> dict[str, str]:
    """The environment with the checkout ahead of anything installed on the import path."""
    rest = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(CHECKOUT), rest]) if rest else str(CHECKOUT)}


def run_aluloop(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``aluloop ARGS`` of this checkout; output captured as text."""
    return subprocess.run([sys.executable, "-m", "aluloop.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=checkout_env())
