"""The dispatching front: format from extension or content, writer choice, encodings."""

from __future__ import annotations

import numpy as np
import pytest

from sorter.io import read_spectrum, sniff_format, write_spectrum
from sorter.spectrum import Spectrum

S = Spectrum([394.4006, 396.152], [1200.0, 2400.0])


@pytest.mark.parametrize(("name", "fmt", "first"), [
    ("a.csv", None, "wavelength_nm"), ("a.txt", None, "wavelength_nm"), ("a.tsv", None, "wavelength_nm"),
    ("a.jdx", None, "##TITLE"), ("a.dx", None, "##TITLE"), ("a.JCAMP", None, "##TITLE"),
    ("a.dat", None, "wavelength_nm"), ("a.dat", "jcamp", "##TITLE"), ("a.jdx", "csv", "wavelength_nm"),
])
def test_writer_choice_and_reader_dispatch(tmp_path, name, fmt, first):
    path = write_spectrum(tmp_path / name, S, fmt)
    assert path.read_text().startswith(first)
    back = read_spectrum(path)  # the .dat / mismatched-extension cases need the content sniff or extension
    np.testing.assert_array_equal(back.intensity, S.intensity)


def test_sniff_by_content(tmp_path):
    write_spectrum(tmp_path / "a.dat", S, "jcamp")
    write_spectrum(tmp_path / "b.dat", S, "csv")
    assert sniff_format(tmp_path / "a.dat") == "jcamp"
    assert sniff_format(tmp_path / "b.dat") == "csv"


def test_unknown_format_refused(tmp_path):
    with pytest.raises(ValueError, match=r"fmt: 'spc' is not one of csv, jcamp"):
        write_spectrum(tmp_path / "a.spc", S, "spc")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "cp1252"])
def test_windows_encodings(tmp_path, encoding):
    path = tmp_path / "w.csv"
    path.write_bytes("# instrument: Spektrometer µ\nWellenlänge;Intensität\n394,4006;1200\n".encode(encoding))
    s = read_spectrum(path)
    assert s.metadata.instrument == "Spektrometer µ"
    np.testing.assert_array_equal(s.wavelength_nm, [394.4006])


def test_folder_is_not_a_spectrum(tmp_path):
    with pytest.raises(ValueError, match="is a folder"):
        read_spectrum(tmp_path)
