"""The CLI tests run the ``aluloop`` of this checkout, whatever the PATH or working directory hold."""

import os
import subprocess
import sys
from pathlib import Path

from tests.support.cli import CHECKOUT, checkout_env, run_aluloop


def test_a_stale_aluloop_on_the_path_is_not_the_one_tested(tmp_path, monkeypatch):
    stale = tmp_path / "aluloop"
    stale.write_text("#!/bin/sh\necho stale aluloop >&2\nexit 99\n")
    stale.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.chdir(tmp_path)
    result = run_aluloop("--help", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "stale" not in result.stderr


def test_the_subprocess_imports_the_checkout_from_any_directory(tmp_path):
    out = subprocess.run([sys.executable, "-c", "import aluloop.cli, blending, sorter; "
                          "print(aluloop.cli.__file__, blending.__file__, sorter.__file__)"],
                         capture_output=True, text=True, check=True, cwd=tmp_path, env=checkout_env())
    for path in out.stdout.split():
        assert Path(path).resolve().is_relative_to(CHECKOUT)
