"""The data files travel inside the wheel, so an installed aluloop works outside the repository."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_the_catalogues(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    wheel = next(tmp_path.glob("aluloop-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for data in ("blending/data/alloys.csv", "blending/data/alloy_limits.csv", "blending/data/materials.csv",
                 "blending/data/elements.csv"):
        assert data in names
    assert not any(n.startswith("tests/") for n in names)
