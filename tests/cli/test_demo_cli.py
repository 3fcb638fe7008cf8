"""The README's first command ends in ``aluloop demo``: it must sort the samples and charge a heat."""

import re

import pytest

from tests.support.cli import run_aluloop


@pytest.mark.slow
def test_demo_sorts_the_samples_and_charges_a_heat(tmp_path):
    result = run_aluloop("demo", "--out", str(tmp_path / "demo"), timeout=300)
    assert result.returncode == 0, result.stderr
    pieces = re.search(r"(\d+) pieces: (\d+) accepted \((\d+) right, (\d+) wrong\), (\d+) sent round", result.stdout)
    assert pieces, result.stdout[-2000:]
    total, accepted, right, wrong, unknown = map(int, pieces.groups())
    assert accepted + unknown == total and right + wrong == accepted
    assert right >= 0.9 * total
    joint = float(re.search(r"joint probability in spec ([0-9.]+)", result.stdout).group(1))
    assert joint >= 0.94  # 95% joint requested; Monte Carlo of 100,000 draws
    assert (tmp_path / "demo" / "chemistry_3104.png").stat().st_size > 10_000


def test_demo_names_a_missing_sample_folder(tmp_path):
    result = run_aluloop("demo", "--samples", str(tmp_path / "nowhere"), timeout=300)
    assert result.returncode == 2
    assert "manifest.csv" in result.stderr and "Traceback" not in result.stderr
