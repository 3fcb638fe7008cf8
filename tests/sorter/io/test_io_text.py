"""Delimited-text spectra: dialect detection, header, metadata comments and errors."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sorter.io import SpectrumFileError, read_spectrum
from sorter.io.text import format_text, parse_text
from sorter.spectrum import Metadata, Spectrum


@settings(max_examples=150, deadline=None)
@given(
    wl=st.lists(st.floats(0.5, 2000.0), min_size=1, max_size=30, unique=True).map(sorted),
    data=st.data(),
    delimiter=st.sampled_from([",", ";", "\t", " ", "  "]),
    decimal_comma=st.booleans(),
    header=st.sampled_from([None, "wavelength_nm{d}intensity", "Wavelength (nm){d}Counts", "lambda{d}I"]),
    comments=st.booleans(),
    newline=st.sampled_from(["\n", "\r\n"]),
    descending=st.booleans(),
    trailing_delimiter=st.booleans(),
)
def test_dialects_read_back_the_same_numbers(wl, data, delimiter, decimal_comma, header, comments, newline,
                                             descending, trailing_delimiter):
    it = data.draw(st.lists(st.floats(-1e12, 1e12, allow_nan=False), min_size=len(wl), max_size=len(wl)))
    decimal_comma = decimal_comma and delimiter != ","  # a comma delimiter rules out decimal commas

    def num(x: float) -> str:
        text = repr(x)
        return text.replace(".", ",") if decimal_comma else text

    rows = list(zip(wl, it, strict=True))
    if descending:
        rows = rows[::-1]
    lines = ["# exported by instrument software", "# shots: 4"] if comments else []
    if header is not None:
        lines.append(header.format(d=delimiter))
    end = delimiter if trailing_delimiter and delimiter.strip() else ""
    lines += [f"{num(w)}{delimiter}{num(i)}{end}" for w, i in rows]
    s = parse_text(newline.join(lines) + newline, "dialect.csv")
    np.testing.assert_array_equal(s.wavelength_nm, np.array(wl))
    np.testing.assert_array_equal(s.intensity, np.array(it))
    assert s.metadata.shots == (4 if comments else None)


def test_decimal_comma_with_semicolon_example_from_a_spreadsheet():
    s = parse_text("Wellenlänge;Intensität\n394,401;1234,5\n396,152;2500\n", "de.csv")
    np.testing.assert_array_equal(s.wavelength_nm, [394.401, 396.152])
    np.testing.assert_array_equal(s.intensity, [1234.5, 2500.0])


def test_tab_with_decimal_commas_and_exponents():
    s = parse_text("394,401\t1,5e+03\n396,152\t2,5E-01\n", "t.tsv")
    np.testing.assert_array_equal(s.intensity, [1500.0, 0.25])


def test_metadata_comments_restored():
    text = ("# instrument: broadband\n# shots: 8\n# timestamp: 2026-11-25T14:03:00+00:00\n"
            "# piece_id: P-17\n# lot: L-2026-311\n# a plain comment, not metadata\nwavelength_nm,intensity\n"
            "390.0,1.0\n")
    md = parse_text(text, "m.csv").metadata
    assert md == Metadata("broadband", 8, datetime(2026, 11, 25, 14, 3, tzinfo=UTC), "P-17",
                          {"lot": "L-2026-311"})


def test_writer_output_is_plain_comma_csv_with_header():
    s = Spectrum([390.0, 390.5], [0.1, 3e-20], Metadata(instrument="x", shots=2))
    assert format_text(s).splitlines() == ["# instrument: x", "# shots: 2", "wavelength_nm,intensity",
                                           "390.0,0.1", "390.5,3e-20"]


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "match"), [
    ("390,1\n391,abc\n", r"p3\.csv line 2, intensity: 'abc' is not a number"),
    ("390,1\nxyz,2\n", r"p3\.csv line 2, wavelength_nm: 'xyz' is not a number"),
    ("390,1\n391,nan\n", r"p3\.csv line 2, intensity: nan is not a finite number"),
    ("390,1\n391,inf\n", r"p3\.csv line 2, intensity: inf is not a finite number"),
    ("390,1\n391,\n", r"p3\.csv line 2, intensity: is empty"),
    ("390,1\n391,2\n391,3\n", r"p3\.csv line 3, wavelength_nm: 391 nm is duplicated \(also on line 2\)"),
    ("390,1\n392,2\n391,3\n", r"p3\.csv line 3, wavelength_nm: 391 nm follows 392 nm; "
                              "wavelengths must all increase or all decrease"),
    ("392,1\n391,2\n393,3\n", r"p3\.csv line 3, wavelength_nm: 393 nm follows 391 nm"),
    ("390,1,5\n", r"p3\.csv line 1: 3 fields split at ','; expected 2.*decimal commas need"),
    ("390\n", r"p3\.csv line 1: 1 fields"),
    ("# only comments\n", r"p3\.csv: holds no data points"),
    ("", r"p3\.csv: holds no data points"),
    ("# shots: many\n390,1\n", r"p3\.csv line 1, shots: 'many' is not a whole number"),
    ("# timestamp: yesterday\n390,1\n", r"p3\.csv line 1, timestamp: 'yesterday' is not an ISO 8601"),
    ("# shots: 1\n# shots: 2\n390,1\n", r"p3\.csv line 2, shots: given twice \(also on line 1\)"),
    ("0,1\n1,2\n", r"p3\.csv line 1, wavelength_nm: 0 nm is not positive"),
    # a first line with one number and one bad field is bad data, not a header row: a line that
    # starts with a number opens the data (else "394.4,abc" would name the columns "394.4" and "abc")
    ("394.4,abc\n395.0,12\n", r"p3\.csv line 1, intensity: 'abc' is not a number"),
    ("394.4;abc\n395.0;12\n", r"p3\.csv line 1, intensity: 'abc' is not a number"),
    ("394.4\tabc\n395.0\t12\n", r"p3\.csv line 1, intensity: 'abc' is not a number"),
    ("394.4,abc\n", r"p3\.csv line 1, intensity: 'abc' is not a number"),
])
def test_bad_content_names_file_line_and_field(tmp_path, text, match):
    with pytest.raises(SpectrumFileError, match=match):
        read_spectrum(_write(tmp_path, "p3.csv", text))


def test_too_many_points(tmp_path):
    text = "".join(f"{400 + i * 1e-3!r},1\n" for i in range(100_001))
    with pytest.raises(SpectrumFileError, match=r"big\.csv: 100001 points is more than the 100000 allowed"):
        read_spectrum(_write(tmp_path, "big.csv", text))


def test_missing_file_named():
    with pytest.raises(SpectrumFileError, match=r"nowhere\.csv: no such file"):
        read_spectrum("nowhere.csv")


@pytest.mark.parametrize(("metadata", "match"), [
    (Metadata(instrument="two\nlines"), "instrument: contains a line break"),
    (Metadata(piece_id=" P1"), "piece_id: ' P1' has leading or trailing blanks"),
    (Metadata(extra={"bad key": "x"}), "metadata key 'bad key': must start with a letter"),
    (Metadata(extra={"shots": "3"}), "metadata key 'shots': is a Metadata field"),
    (Metadata(extra={"lot-id": "a", "lot_id": "b"}), "metadata key 'lot_id': cannot be told apart"),
])
def test_unwritable_metadata_refused(tmp_path, metadata, match):
    with pytest.raises(SpectrumFileError, match=match):
        format_text(Spectrum([1.0], [1.0], metadata), "out.csv")


def test_key_value_lines_right_above_the_data_are_metadata_not_column_names():
    # a vendor header block may end without a names row: its last "key: value" line is metadata
    text = "Spectrometer: USB4000\nIntegration time: 100 ms\n300.0;10\n300.5;12\n301.0;11\n"
    s = parse_text(text, "block.txt")
    assert s.wavelength_nm.tolist() == [300.0, 300.5, 301.0] and s.intensity.tolist() == [10, 12, 11]
    assert s.metadata.extra == {"Spectrometer": "USB4000", "Integration_time": "100 ms"}


def test_a_names_row_whose_cells_hold_colons_is_still_the_names_row():
    # "Wavelength: nm;Intensity: counts" splits into one name per column, so it names them
    text = "Spectrometer: USB4000\nWavelength: nm;Intensity: counts\n300.0;10\n300.5;12\n301.0;11\n"
    s = parse_text(text, "named.txt")
    assert s.intensity.tolist() == [10, 12, 11]
    assert s.metadata.extra == {"Spectrometer": "USB4000"}
