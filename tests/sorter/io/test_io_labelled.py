"""A plant's labelled training folder: labels.csv plus CSV / JCAMP-DX spectra."""

from __future__ import annotations

import numpy as np
import pytest

from sorter.io import LabelledSpectra, read_labelled_folder, write_spectrum
from sorter.spectrum import Metadata, Spectrum


def _folder(tmp_path, labels: str, grids=None):
    (tmp_path / "spectra").mkdir()
    grids = grids or {}
    for name in ("p01.csv", "p02.jdx", "p03.csv"):
        wl = grids.get(name, np.linspace(380.0, 400.0, 21))
        write_spectrum(tmp_path / "spectra" / name, Spectrum(wl, np.arange(wl.size) + 1.0,
                                                              Metadata(piece_id=name[:3])))
    (tmp_path / "labels.csv").write_text(labels)
    return tmp_path


LABELS = ("# reference analyses by spark OES\n"
          "file,grade,Mg,Si,Cu,source\n"
          "spectra/p01.csv,5182,4.4,0.12,,lab report 17\n"
          "spectra/p02.jdx,6063,0.5,0.45,0.01,lab report 17\n"
          "spectra/p03.csv,,,,,\n")


def test_reads_spectra_labels_and_composition(tmp_path):
    data = read_labelled_folder(_folder(tmp_path, LABELS))
    assert isinstance(data, LabelledSpectra)
    assert len(data) == 3
    assert data.files == ["spectra/p01.csv", "spectra/p02.jdx", "spectra/p03.csv"]
    assert data.labels.tolist() == ["5182", "6063", ""]
    assert data.elements == ("Mg", "Si", "Cu")
    np.testing.assert_array_equal(data.composition_wt_pct,
                                  [[4.4, 0.12, np.nan], [0.5, 0.45, 0.01], [np.nan, np.nan, np.nan]])
    assert [s.metadata.piece_id for s in data.spectra] == ["p01", "p02", "p03"]


def test_to_batch_on_shared_grid(tmp_path):
    batch = read_labelled_folder(_folder(tmp_path, LABELS)).to_batch()
    assert batch.intensity.shape == (3, 21)
    assert batch.meta["file"].tolist()[1] == "spectra/p02.jdx"


def test_to_batch_refuses_different_grids(tmp_path):
    data = read_labelled_folder(_folder(tmp_path, LABELS, {"p03.csv": np.linspace(380.0, 400.0, 11)}))
    assert data.spectra[2].n_points == 11
    with pytest.raises(ValueError, match=r"spectra/p03\.csv: wavelength grid differs"):
        data.to_batch()


@pytest.mark.parametrize(("labels", "match"), [
    ("file,grade\nspectra/p01.csv,5182\nspectra/p02.jdx,6063\nspectra/p17.csv,5182\n",
     r"labels\.csv row 4, file: spectra/p17\.csv does not exist"),
    ("file,grade,Mgg\nspectra/p01.csv,5182,1\n", r"labels\.csv row 1, Mgg: is not an element symbol"),
    ("file,grade,Mg\nspectra/p01.csv,5182,-0.2\n", r"labels\.csv row 2, Mg: -0\.2 wt% must be between 0 and 100"),
    ("file,grade,Mg\nspectra/p01.csv,5182,abc\n", r"labels\.csv row 2, Mg: 'abc' is not a number"),
    ("file,Mg\nspectra/p01.csv,1\n", r"labels\.csv row 1: missing column\(s\) grade"),
    ("file,grade\nspectra/p01.csv,5182\nspectra/p01.csv,6063\n",
     r"labels\.csv row 3, file: spectra/p01\.csv is listed twice \(also row 2\)"),
    ("file,grade\n,5182\n", r"labels\.csv row 2, file: is empty"),
    ("file,grade\n", r"labels\.csv: lists no spectrum files"),
])
def test_labels_errors_name_row_and_field(tmp_path, labels, match):
    with pytest.raises(ValueError, match=match):
        read_labelled_folder(_folder(tmp_path, labels))


def test_bad_spectrum_named_with_its_line(tmp_path):
    folder = _folder(tmp_path, "file,grade\nspectra/p01.csv,5182\nspectra/p03.csv,6063\n")
    lines = (folder / "spectra" / "p03.csv").read_text().splitlines()
    lines[11] = "390.0,abc"
    (folder / "spectra" / "p03.csv").write_text("\n".join(lines))
    with pytest.raises(ValueError, match=r"spectra/p03\.csv line 12, intensity: 'abc' is not a number"):
        read_labelled_folder(folder)


def test_missing_labels_file(tmp_path):
    with pytest.raises(ValueError, match=r"has no labels\.csv"):
        read_labelled_folder(tmp_path)


def _side_by_side(path, names, offset=0.0):
    wl = np.linspace(380.0, 400.0, 21)
    rows = [";".join(["Wavelength", *names])]
    rows += [";".join([repr(float(w)), *(repr(float(k + offset + i)) for k in range(len(names)))])
             for i, w in enumerate(wl)]
    path.write_text("\n".join(rows) + "\n")


def test_a_file_of_shots_side_by_side_is_labelled_whole(tmp_path):
    _side_by_side(tmp_path / "p07.csv", ["shot1", "shot2", "shot3"])
    (tmp_path / "labels.csv").write_text("file,grade,Mg\np07.csv,5182,4.4\n")
    data = read_labelled_folder(tmp_path)
    assert data.files == ["p07.csv#shot1", "p07.csv#shot2", "p07.csv#shot3"]
    assert data.labels.tolist() == ["5182"] * 3
    np.testing.assert_array_equal(data.composition_wt_pct, [[4.4]] * 3)
    assert data.to_batch().intensity.shape == (3, 21)


def test_a_spectrum_column_names_one_piece_of_a_side_by_side_file(tmp_path):
    _side_by_side(tmp_path / "pieces.csv", ["P-11", "P-12"])
    (tmp_path / "labels.csv").write_text("file,spectrum,grade\npieces.csv,P-12,6063\npieces.csv,P-11,3105\n")
    data = read_labelled_folder(tmp_path)
    assert data.files == ["pieces.csv#P-12", "pieces.csv#P-11"]
    assert data.labels.tolist() == ["6063", "3105"]
    np.testing.assert_array_equal(data.spectra[0].intensity, np.arange(21) + 1.0)


def test_column_options_reach_every_text_file(tmp_path):
    _side_by_side(tmp_path / "pieces.csv", ["P-11", "P-12"])
    (tmp_path / "labels.csv").write_text("file,grade\npieces.csv,6063\n")
    data = read_labelled_folder(tmp_path, intensity_column="P-12")
    assert data.files == ["pieces.csv"] and data.spectra[0].metadata.extra["intensity_column"] == "P-12"


@pytest.mark.parametrize(("labels", "match"), [
    ("file,spectrum,grade\npieces.csv,P-13,6063\n",
     r"labels\.csv row 2, spectrum: pieces\.csv holds no spectrum named 'P-13' \(it holds P-11, P-12\)"),
    ("file,spectrum,grade\npieces.csv,P-11,6063\npieces.csv,P-11,6063\n",
     r"labels\.csv row 3, file: pieces\.csv is listed twice \(also row 2\)"),
    ("file,spectrum,grade\npieces.csv,,6063\npieces.csv,P-11,6063\n",
     r"labels\.csv row 3, spectrum: row 2 labels pieces\.csv too"),
])
def test_side_by_side_labels_errors_name_row_and_field(tmp_path, labels, match):
    _side_by_side(tmp_path / "pieces.csv", ["P-11", "P-12"])
    (tmp_path / "labels.csv").write_text(labels)
    with pytest.raises(ValueError, match=match):
        read_labelled_folder(tmp_path)
