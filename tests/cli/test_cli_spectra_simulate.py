"""``aluloop spectra simulate`` and ``aluloop spectra plot``."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from typer.testing import CliRunner

from aluloop.cli import app
from blending.catalogue.composition import Composition
from blending.catalogue.spec import get_alloy
from sorter.io import load_batch, read_spectrum

runner = CliRunner()


def _spectrum_files(folder, ext=".csv"):
    return sorted(p for p in folder.glob(f"*{ext}") if p.name != "manifest.csv")


def test_simulate_npz_holds_spectra_and_ground_truth(tmp_path):
    result = runner.invoke(app, ["spectra", "simulate", "--grade", "5182", "--grade", "6063", "--n", "3",
                                 "--instrument", "highres", "--out", str(tmp_path), "--seed", "4"])
    assert result.exit_code == 0, result.output
    (path,) = tmp_path.glob("*.npz")
    batch = load_batch(path)
    assert batch.intensity.shape == (6, 2048)
    assert list(batch.labels) == ["5182"] * 3 + ["6063"] * 3
    for i in range(6):
        bulk = {k: v for k, v in batch.composition(i).items() if k != "Al"}
        assert get_alloy(batch.labels[i]).check(Composition(bulk)).in_spec
    assert "6 spectra" in result.stdout


@pytest.mark.parametrize("fmt, ext", [("csv", ".csv"), ("jcamp", ".jdx")])
def test_simulate_files_with_manifest(tmp_path, fmt, ext):
    result = runner.invoke(app, ["spectra", "simulate", "-g", "brass", "--n", "2", "--instrument", "broadband",
                                 "--out", str(tmp_path), "--format", fmt, "--seed", "1"])
    assert result.exit_code == 0, result.output
    files = _spectrum_files(tmp_path, ext)
    assert len(files) == 2
    spectrum = read_spectrum(files[0])
    assert spectrum.n_points == 4096 and spectrum.metadata.extra["grade"] == "brass"
    with open(tmp_path / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["file"] for r in rows] == [p.name for p in files]
    assert 60.0 <= float(rows[0]["Cu"]) <= 63.0 and rows[0]["seed"] == "1"


def test_same_seed_same_files(tmp_path):
    for sub in ("a", "b"):
        runner.invoke(app, ["spectra", "simulate", "-g", "3104", "--n", "1", "--out", str(tmp_path / sub),
                            "--format", "csv", "--seed", "9"])
    (a,) = _spectrum_files(tmp_path / "a")
    (b,) = _spectrum_files(tmp_path / "b")
    np.testing.assert_array_equal(read_spectrum(a).intensity, read_spectrum(b).intensity)


@pytest.mark.parametrize("args, message", [
    (["-g", "9999", "--n", "1"], "unknown grade '9999'"),
    (["-g", "5182", "--n", "0"], "--n: 0 spectra per grade"),
    (["-g", "5182", "--n", "1", "--instrument", "nope"], "unknown instrument 'nope'"),
    (["-g", "5182", "--n", "1", "--format", "xlsx"], "--format: 'xlsx'"),
    (["-g", "5182", "--n", "1", "--range-nm", "400", "300"], "--range-nm: empty range 400-300 nm"),
    (["-g", "5182", "--n", "1", "--surface", "chrome"], "unknown layer 'chrome'"),
])
def test_bad_input_one_line_exit_2(tmp_path, args, message):
    result = runner.invoke(app, ["spectra", "simulate", *args, "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_range_option_crops_the_instrument(tmp_path):
    result = runner.invoke(app, ["spectra", "simulate", "-g", "6063", "--n", "1", "--out", str(tmp_path),
                                 "--range-nm", "380", "400", "--format", "csv"])
    assert result.exit_code == 0, result.output
    (path,) = _spectrum_files(tmp_path)
    lo, hi = read_spectrum(path).range_nm
    assert (lo, hi) == (380.0, 400.0)


def test_plot_writes_png_and_refuses_empty_zoom(tmp_path):
    runner.invoke(app, ["spectra", "simulate", "-g", "5182", "-g", "6063", "--n", "1", "--out", str(tmp_path),
                        "--format", "csv", "--instrument", "highres"])
    files = [str(p) for p in _spectrum_files(tmp_path)]
    out = tmp_path / "p.png"
    result = runner.invoke(app, ["spectra", "plot", *files, "--out", str(out), "--zoom", "276", "290"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:4] == b"\x89PNG"
    bad = runner.invoke(app, ["spectra", "plot", *files, "--out", str(out), "--zoom", "290", "276"])
    assert bad.exit_code == 2 and "--zoom: empty range" in bad.output


def test_simulate_refuses_what_memory_cannot_hold_before_it_starts(tmp_path):
    """A slip of the keyboard (--n 100000000) is refused at once with the figures, not run out of memory."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "aluloop.cli", "spectra", "simulate", "-g", "5182", "-g", "6063",
           "--n", "100000000", "--out", str(tmp_path / "sim")]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and line.startswith("error: --n 100,000,000 spectra per grade")
    assert " GB of memory and " in line and "GB is available" in line and "at most" in line
    assert not (tmp_path / "sim").exists()


def test_simulate_defaults_to_the_shots_the_bundled_model_was_trained_on(tmp_path):
    from sorter.serving.registry import bundled_cards

    trained = {card.instrument: card.shots_per_piece for _, card in bundled_cards().values()}
    assert trained["highres"] and trained["highres"] > 1
    result = runner.invoke(app, ["spectra", "simulate", "-g", "6063", "--n", "1", "-i", "highres", "--format", "csv",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (path,) = _spectrum_files(tmp_path)
    assert read_spectrum(path).metadata.shots == trained["highres"]
    assert f"{trained['highres']} shots each" in result.stdout
    single = runner.invoke(app, ["spectra", "simulate", "-g", "6063", "--n", "1", "-i", "highres", "--format", "csv",
                                 "--out", str(tmp_path / "one"), "--shots", "1"])
    assert single.exit_code == 0 and read_spectrum(_spectrum_files(tmp_path / "one")[0]).metadata.shots == 1
