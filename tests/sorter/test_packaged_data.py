"""The simulator's data files travel inside the wheel."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_ships_the_simulator_data(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    names = set(zipfile.ZipFile(next(tmp_path.glob("aluloop-*.whl"))).namelist())
    for data in ("libs_lines.csv", "libs_levels.csv", "ionisation_energies.csv", "instruments.toml",
                 "contaminants.csv", "surface_layers.toml", "main_lines.csv", "extra_feature_lines.csv"):
        assert f"sorter/data/{data}" in names
    assert "sorter/physics/saha.py" in names
