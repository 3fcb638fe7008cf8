"""JCAMP-DX: hand-written fixtures in the compressed forms, decoded by hand; writer layout; errors."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from sorter.io import SpectrumFileError, read_spectrum, write_spectrum
from sorter.io.jcamp import decode_asdf_line, dif, dup, format_jcamp, parse_jcamp, sqz
from sorter.spectrum import Metadata, Spectrum

FIXTURES = Path(__file__).parent / "fixtures"

# McDonald & Wilks (1988) Table VII: one ordinate sequence in every form.
SEQUENCE = [1, 2, 3, 3, 2, 1, 0, -1, -2, -3]


@pytest.mark.parametrize("form", [
    "1 2 3 3 2 1 0 -1 -2 -3",  # AFFN
    "1+2+3+3+2+1+0-1-2-3",  # PAC
    "1BCCBA@abc",  # SQZ
    "1JJ%jjjjjj",  # DIF
    "1JT%jX",  # DIFDUP: T = twice, X = six times
    "ABCCBA@abc",  # SQZ from the first value on
    "ABCTBA@abc",  # SQZDUP
])
def test_table_vii_forms_decode_to_the_same_sequence(form):
    x, y, _ = decode_asdf_line("100 " + form)
    assert x == 100
    assert y == SEQUENCE


def test_ends_in_dif_flag():
    assert decode_asdf_line("1 1JT%jX")[2] is True
    assert decode_asdf_line("1 ABCTBA@abc")[2] is False
    assert decode_asdf_line("1 AJT")[2] is True  # DUP of a difference still ends in DIF form


def test_multi_digit_pseudo_digits():
    # a23 = -123, J05 = +105, s1 = 91 times
    _, y, _ = decode_asdf_line("0 a23J05")
    assert y == [-123, -18]
    _, y, _ = decode_asdf_line("0 @%s1")
    assert y == [0] * 92


def test_encoders_match_table_vii():
    assert [sqz(v) for v in (0, 1, 9, -1, -9, 123, -123)] == ["@", "A", "I", "a", "i", "A23", "a23"]
    assert [dif(v) for v in (0, 1, 9, -1, -9, 105, -105)] == ["%", "J", "R", "j", "r", "J05", "j05"]
    assert [dup(v) for v in (2, 6, 9, 10, 91)] == ["T", "X", "s", "S0", "s1"]


def test_difdup_fixture_decoded_by_hand():
    s = read_spectrum(FIXTURES / "difdup.jdx")
    # Line 1 gives SEQUENCE; line 2 repeats -3 as Y check, then % j T -> -3, -4, -5;
    # line 3 repeats -5, then K J -> -3, -2; line 4 is the final Y check (-2). YFACTOR 10.
    expected = np.array(SEQUENCE + [-3, -4, -5, -3, -2], dtype=float) * 10
    np.testing.assert_array_equal(s.intensity, expected)
    np.testing.assert_allclose(s.wavelength_nm, 390.0 + 0.01 * np.arange(15), rtol=0, atol=1e-9)
    md = s.metadata
    assert md.instrument == "broadband"
    assert md.shots == 8
    assert md.piece_id == "P-0017"
    assert md.timestamp == datetime(2026, 11, 25, 14, 3, 7)
    assert md.extra == {"title": "DIFDUP example after McDonald & Wilks (1988), Table VII", "LOT": "L-311"}


def test_sqzdup_micrometres_decreasing_fixture_decoded_by_hand():
    s = read_spectrum(FIXTURES / "sqzdup_micrometers.jdx")
    # File order: A23 U -> 123 three times; a5 = -15; +7 (PAC); @ = 0; YFACTOR 0.5.
    # Abscissae 0.4005 .. 0.4000 um = 400.5 .. 400.0 nm, reversed to increase.
    np.testing.assert_array_equal(s.intensity, np.array([0, 7, -15, 123, 123, 123]) * 0.5)
    np.testing.assert_allclose(s.wavelength_nm, [400.0, 400.1, 400.2, 400.3, 400.4, 400.5], rtol=1e-12)


def test_peak_table_fixture():
    s = read_spectrum(FIXTURES / "peaktable.jdx")
    np.testing.assert_array_equal(s.wavelength_nm, [285.2127, 308.2155, 309.2710, 394.4006])
    np.testing.assert_array_equal(s.intensity, [300.0, 1000.0, 1600.0, 2400.0])


def _jcamp(units: str, body: str, extra: str = "") -> str:
    return ("##TITLE=t\n##JCAMP-DX=4.24\n##DATA TYPE=EMISSION SPECTRUM\n"
            f"##XUNITS={units}\n##YUNITS=ARBITRARY UNITS\n{extra}{body}##END=\n")


def test_wavenumbers_become_air_wavelengths():
    # NIST ASD, Al I: 394.4006 / 396.1520 nm in air are 394.5122 / 396.2641 nm in vacuum.
    vac = np.array([396.2641, 394.5122])
    body = "##XYPOINTS=(XY..XY)\n" + "\n".join(f"{float(1e7 / v)!r}, {i}" for i, v in enumerate(vac, 1)) + "\n"
    s = parse_jcamp(_jcamp("1/CM", body))
    np.testing.assert_allclose(s.wavelength_nm, [394.4006, 396.1520], atol=2e-4)
    np.testing.assert_array_equal(s.intensity, [2.0, 1.0])  # wavenumber order reversed


def test_affn_writer_puts_abscissa_of_first_ordinate_at_each_line_start():
    wl = np.linspace(200.0, 210.0, 101)
    s = Spectrum(wl, np.sin(wl) * 1e4)
    text = format_jcamp(s)
    lines = text.split("##XYDATA=(X++(Y..Y))\n")[1].split("##END=")[0].splitlines()
    index = 0
    for line in lines:
        assert len(line) <= 80
        fields = line.split()
        assert float(fields[0]) == wl[index]
        np.testing.assert_array_equal([float(f) for f in fields[1:]], s.intensity[index:index + len(fields) - 1])
        index += len(fields) - 1
    assert index == 101


def test_difdup_writer_repeats_last_ordinate_as_y_check():
    wl = np.linspace(300.0, 330.0, 301)
    counts = np.round(1000 + 800 * np.exp(-((wl - 309.27) / 0.2) ** 2))
    text = format_jcamp(Spectrum(wl, counts), compression="difdup")
    assert "##YFACTOR=1.0" in text
    lines = text.split("##XYDATA=(X++(Y..Y))\n")[1].split("##END=")[0].splitlines()
    decoded = [decode_asdf_line(line) for line in lines]
    for line in lines:
        assert len(line) <= 80
        assert re.search(r"[%J-Rj-r]", line) or line is lines[-1]
    for (_, prev, ends_dif), (_x, y, _) in zip(decoded, decoded[1:], strict=False):
        assert ends_dif
        assert y[0] == prev[-1]  # the check value
    # Line X is the abscissa of its first ordinate (the check point for lines after the first).
    index = 0
    for k, (x, y, _) in enumerate(decoded):
        start = index if k == 0 else index - 1
        assert x == wl[start]
        index = start + len(y)
    assert index == 301


def test_non_uniform_grid_written_as_xypoints():
    s = Spectrum([300.0, 300.1, 300.3], [1.0, 2.0, 3.0])
    text = format_jcamp(s)
    assert "##XYPOINTS=(XY..XY)" in text and "##XYDATA" not in text


def test_longdate_with_fraction_and_offset():
    text = _jcamp("NANOMETERS", "##XYPOINTS=(XY..XY)\n1,1\n", "##LONGDATE=2026/11/25 14:03:07.5 -0230\n")
    ts = parse_jcamp(text).metadata.timestamp
    assert ts.isoformat() == "2026-11-25T14:03:07.500000-02:30"


@pytest.mark.parametrize(("units", "body", "extra", "match"), [
    ("HZ", "##XYPOINTS=(XY..XY)\n1,1\n", "", r"x\.jdx line 4, ##XUNITS: 'HZ' is not a wavelength unit"),
    ("NANOMETERS", "##XYDATA=(X++(Y..Y))\n1 A J\n2 C J\n", "##FIRSTX=1\n##LASTX=3\n",
     r"x\.jdx line 10, XYDATA: Y check value 3 differs from the previous line's last value 2"),
    ("NANOMETERS", "##XYDATA=(X++(Y..Y))\n1 1 2 3\n", "##FIRSTX=1\n##LASTX=4\n##NPOINTS=4\n",
     r"x\.jdx line 9, ##XYDATA: holds 3 values but ##NPOINTS says 4"),
    ("NANOMETERS", "##XYDATA=(X++(Y..Y))\n1 1 2 3\n3 4 5\n", "##FIRSTX=1\n##LASTX=5\n",
     r"x\.jdx line 10, XYDATA: line starts at X = 3 but point 4 lies at 4"),
    ("NANOMETERS", "##XYDATA=(X++(Y..Y))\n1 J 2\n", "##FIRSTX=1\n##LASTX=2\n",
     r"x\.jdx line 9, XYDATA: the first Y value of a line is a difference"),
    ("NANOMETERS", "##XYDATA=(X++(Y..Y))\n1 1 2 #\n", "##FIRSTX=1\n##LASTX=3\n",
     r"x\.jdx line 9, XYDATA: unexpected character '#' at column 7"),
    ("NANOMETERS", "##XYDATA=(X++(Y..Y))\n1 1 2\n", "", r"x\.jdx line 6, ##XYDATA: needs ##LASTX or ##DELTAX"),
    ("NANOMETERS", "##XYDATA=(XY..XY)\n1 1 2\n", "", r"x\.jdx line 6, ##XYDATA: '\(XY..XY\)' is not supported"),
    ("NANOMETERS", "##XYPOINTS=(XY..XY)\n1, 1; 2\n", "", r"x\.jdx line 7, ##XYPOINTS: 3 numbers do not make"),
    ("NANOMETERS", "##XYPOINTS=(XY..XY)\n1, 1; 2, abc\n", "", r"x\.jdx line 7, ##XYPOINTS: 'abc' is not a number"),
    ("NANOMETERS", "##XYPOINTS=(XY..XY)\n1, 1\n2, 2\n1.5, 3\n", "",
     r"x\.jdx line 9, wavelength_nm: 1.5 nm follows 2 nm"),
    ("NANOMETERS", "##XYPOINTS=(XY..XY)\n1, 1\n1, 2\n", "", r"x\.jdx line 8, wavelength_nm: 1 nm is duplicated"),
    ("NANOMETERS", "", "", r"x\.jdx: has no ##XYDATA, ##XYPOINTS or ##PEAK TABLE record"),
    ("NANOMETERS", "##NTUPLES=MASS SPECTRUM\n", "", r"x\.jdx line 6, ##NTUPLES: multi-block and NTUPLES"),
    ("NANOMETERS", "##XYPOINTS=(XY..XY)\n1,1\n", "##$SHOTS=-2\n", r"x\.jdx line 6, ##\$SHOTS: '-2' is not a whole"),
    ("NANOMETERS", "##XYPOINTS=(XY..XY)\n1,1\n", "##LONGDATE=last week\n",
     r"x\.jdx line 6, ##LONGDATE: 'last week' is not a date"),
])
def test_bad_jcamp_names_file_line_and_field(tmp_path, units, body, extra, match):
    path = tmp_path / "x.jdx"
    path.write_text(_jcamp(units, body, extra))
    with pytest.raises(SpectrumFileError, match=match):
        read_spectrum(path)


def test_missing_units_refused():
    text = "##TITLE=t\n##JCAMP-DX=4.24\n##XYPOINTS=(XY..XY)\n1,1\n##END=\n"
    with pytest.raises(SpectrumFileError, match=r"##XUNITS: is missing"):
        parse_jcamp(text, "u.jdx")


def test_jcamp_metadata_with_comment_marker_refused(tmp_path):
    s = Spectrum([1.0], [1.0], Metadata(piece_id="A$$B"))
    with pytest.raises(SpectrumFileError, match=r"piece_id: contains '\$\$'"):
        write_spectrum(tmp_path / "c.jdx", s)


def test_content_sniff_reads_jcamp_without_extension(tmp_path):
    path = tmp_path / "export.dat"
    path.write_text((FIXTURES / "peaktable.jdx").read_text())
    assert read_spectrum(path).n_points == 4
