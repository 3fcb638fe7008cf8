"""An installed wheel works outside the repository: its data files, its bundled models, its commands.

The wheel is built from this checkout and installed into a fresh virtual environment in a
temporary folder, with the base dependencies only (no scikit-learn: a sorting line and a
furnace engineer need none); the commands run from that folder, so nothing of the repository
is on the path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    return next(out.glob("aluloop-*.whl"))


def test_every_package_of_the_tree_is_listed_for_the_wheel():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set(find_packages(str(ROOT), include=["aluloop*", "api*", "sorter*", "blending*"]))
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert listed - found == {"sorter.bundled_models"}


def test_wheel_ships_the_catalogues_and_the_models(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for data in ("blending/data/alloys.csv", "blending/data/alloy_limits.csv", "blending/data/materials.csv",
                 "blending/data/elements.csv", "sorter/data/instruments.toml"):
        assert data in names
    models = sorted(p.name for p in (ROOT / "models").glob("*.onnx"))
    assert models
    for name in models:
        assert f"sorter/bundled_models/{name}" in names
        assert f"sorter/bundled_models/{name[:-5]}.card.json" in names
    assert not any(n.startswith(("tests/", "research/", "bench/")) for n in names)


@pytest.mark.slow
def test_installed_wheel_classifies_and_blends_outside_the_repository(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    subprocess.run([str(bindir / "python"), "-m", "pip", "install", "-q", str(wheel)], check=True,
                   capture_output=True, timeout=900)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ALULOOP_MODELS", "VIRTUAL_ENV")}
    run = tmp_path / "work"
    run.mkdir()

    where = subprocess.run([str(bindir / "python"), "-c", "import sorter, sklearn"], cwd=run, env=env,
                           capture_output=True, text=True, timeout=120)
    assert "No module named 'sklearn'" in where.stderr  # the base install leaves training out

    spectrum = ROOT / "sample_spectra" / "5182_broadband_seed1005_0000.csv"
    classify = subprocess.run([str(bindir / "aluloop"), "classify", str(spectrum), "--json"], cwd=run, env=env,
                              capture_output=True, text=True, timeout=300)
    assert classify.returncode == 0, classify.stderr
    result = json.loads(classify.stdout.splitlines()[0])
    assert result["grade"] == "5182" and result["decision"] == "accept"

    blend = subprocess.run([str(bindir / "aluloop"), "blend", "--alloy", "3104", "--mass-kg", "20000",
                            "--inventory", str(ROOT / "examples" / "ubc_3104_inventory.csv"), "--json",
                            "--draws", "2000", "--mass-tolerance-kg", "200"], cwd=run, env=env,
                           capture_output=True, text=True, timeout=300)
    assert blend.returncode == 0, blend.stderr
    assert json.loads(blend.stdout)["status"] == "optimal"
