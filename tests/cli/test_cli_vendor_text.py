"""``aluloop classify`` and ``aluloop train libs`` read multi-column and side-by-side text exports."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from aluloop.cli import app
from sorter.io import read_spectrum

runner = CliRunner()
SAMPLES = Path(__file__).resolve().parents[2] / "sample_spectra"
GRADES = ("1050A", "3003", "5182", "6061", "copper")


def _sample(grade: str):
    return read_spectrum(next(SAMPLES.glob(f"{grade}_broadband_*_0000.csv")))


def _lambda_dark(path: Path, wl: np.ndarray, signal: np.ndarray) -> Path:
    """The issue's export: tab-separated Lambda, Spectrum, Dark, SpecMinusDark."""
    rows = [f"{w!r}\t{s + 1000.0!r}\t1000.0\t{s!r}" for w, s in zip(wl.tolist(), signal.tolist(), strict=True)]
    path.write_text("Lambda\tSpectrum\tDark\tSpecMinusDark\n" + "\n".join(rows) + "\n")
    return path


def _side_by_side(path: Path, wl: np.ndarray, columns: dict[str, np.ndarray]) -> Path:
    """One column per piece or shot, ';'-separated with decimal commas."""
    def num(x: float) -> str:
        return repr(x).replace(".", ",")

    rows = [";".join(["Wavelength", *columns])]
    rows += [";".join(num(v) for v in row) for row in zip(wl.tolist(), *(c.tolist() for c in columns.values()),
                                                          strict=True)]
    path.write_text("\n".join(rows) + "\n")
    return path


def _classify(*args: str) -> list[dict]:
    result = runner.invoke(app, ["classify", *args, "--model", "broadband", "--json"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.strip().splitlines()]


def test_classify_reads_a_multi_column_and_a_side_by_side_file(tmp_path):
    a, b = _sample("5182"), _sample("6061")
    multi = _lambda_dark(tmp_path / "export.txt", a.wavelength_nm, a.intensity)
    pieces = _side_by_side(tmp_path / "pieces.csv", a.wavelength_nm, {"P-1": a.intensity, "P-2": b.intensity})
    originals = next(SAMPLES.glob("5182_broadband_*_0000.csv")), next(SAMPLES.glob("6061_broadband_*_0000.csv"))
    want = _classify(*map(str, originals))
    got = _classify(str(multi), str(pieces))
    assert [r["file"] for r in got] == [str(multi), f"{pieces}#P-1", f"{pieces}#P-2"]
    for r, w in zip(got, [want[0], *want], strict=True):
        assert (r["grade"], r["probabilities"], r["decision"]) == (w["grade"], w["probabilities"], w["decision"])


def test_classify_column_options_choose_and_refuse_by_name(tmp_path):
    a = _sample("5182")
    multi = _lambda_dark(tmp_path / "export.txt", a.wavelength_nm, a.intensity)
    pieces = _side_by_side(tmp_path / "pieces.csv", a.wavelength_nm, {"P-1": a.intensity, "P-2": 2 * a.intensity})
    assert [r["file"] for r in _classify(str(pieces), "--intensity-column", "P-2")] == [str(pieces)]
    result = runner.invoke(app, ["classify", str(multi), "--model", "broadband", "--intensity-column", "Signal"])
    assert result.exit_code == 2
    assert ("export.txt line 1, --intensity-column: no column named 'Signal'; columns found: Lambda, Spectrum, "
            "Dark, SpecMinusDark") in " ".join(result.output.split())


@pytest.fixture(scope="module")
def plant_folder(tmp_path_factory):
    """A plant's labelled folder of its own exports: six shots side by side per piece, one Lambda/Dark export."""
    folder = tmp_path_factory.mktemp("plant_exports")
    with (SAMPLES / "manifest.csv").open() as fh:
        manifest = {r["file"]: r for r in csv.DictReader(fh)}
    rng = np.random.default_rng(32)
    rows = ["file,grade,Mg,Si,Cu"]
    for grade in GRADES:
        path = next(SAMPLES.glob(f"{grade}_broadband_*_0000.csv"))
        s, analysis = read_spectrum(path), manifest[path.name]
        shots = {f"shot{k}": s.intensity * rng.uniform(0.9, 1.1) for k in range(6)}
        _side_by_side(folder / f"{grade}.csv", s.wavelength_nm, shots)
        rows.append(f"{grade}.csv,{grade},{analysis['Mg']},{analysis['Si']},{analysis['Cu']}")
        if grade == "5182":
            _lambda_dark(folder / "5182_export.txt", s.wavelength_nm, s.intensity)
            rows.append(f"5182_export.txt,{grade},{analysis['Mg']},{analysis['Si']},{analysis['Cu']}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


def test_train_libs_reads_a_folder_of_side_by_side_and_multi_column_exports(plant_folder, tmp_path):
    out = tmp_path / "plant.onnx"
    result = runner.invoke(app, ["train", "libs", "--data", str(plant_folder), "--out", str(out), "--max-iter", "10",
                                 "--members", "1", "--state-reference", "none"])
    assert result.exit_code == 0, result.output
    card = json.loads(out.with_name("plant.card.json").read_text())
    assert sorted(card["classes"]) == sorted(GRADES)
    result = runner.invoke(app, ["classify", str(plant_folder / "6061.csv"), "--model", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.strip().splitlines()) == 6


def test_train_libs_passes_the_column_options_to_every_file(plant_folder, tmp_path):
    result = runner.invoke(app, ["train", "libs", "--data", str(plant_folder), "--out", str(tmp_path / "m.onnx"),
                                 "--intensity-column", "shot9"])
    assert result.exit_code == 2
    assert "1050A.csv line 1, --intensity-column: no column named 'shot9'; columns found: Wavelength, shot0" in (
        " ".join(result.output.split()))
    assert not (tmp_path / "m.onnx").exists()
