"""``aluloop spectra info``."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from aluloop.cli import app
from sorter.io import write_spectrum
from sorter.spectrum import Metadata, Spectrum

runner = CliRunner()


def _files(tmp_path):
    s = Spectrum(np.linspace(380.0, 400.0, 201), np.ones(201), Metadata(instrument="broadband", shots=8,
                                                                         piece_id="P-17"))
    return write_spectrum(tmp_path / "a.csv", s), write_spectrum(tmp_path / "b.jdx", s, compression="difdup")


def test_info_json(tmp_path):
    a, b = _files(tmp_path)
    result = runner.invoke(app, ["spectra", "info", str(a), str(b), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert [i["format"] for i in info] == ["csv", "jcamp-dx"]
    assert all(i["n_points"] == 201 and i["range_nm"] == [380.0, 400.0] for i in info)
    assert info[1]["metadata"]["shots"] == 8 and info[1]["metadata"]["piece_id"] == "P-17"


def test_info_table(tmp_path):
    a, _ = _files(tmp_path)
    result = runner.invoke(app, ["spectra", "info", str(a)])
    assert result.exit_code == 0
    assert "201" in result.stdout and "broadband" in result.stdout


def test_bad_file_exit_2_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p3.csv").write_text("390,1\n391,abc\n")
    result = runner.invoke(app, ["spectra", "info", "p3.csv"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: p3.csv line 2, intensity: 'abc' is not a number"


def test_missing_file_exit_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["spectra", "info", "none.jdx"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: none.jdx: no such file"
