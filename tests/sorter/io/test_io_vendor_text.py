"""Text exports as spectrometer software writes them: many columns, header blocks, units, spectra side by side.

The fixtures in ``fixtures/`` are written by hand from the published layouts of each form
(Ocean Optics SpectraSuite and OceanView "with header" text, an AvaSoft-style ASCII export, the
tab-separated ``Lambda Spectrum Dark SpecMinusDark`` export of the issue); no vendor file is copied.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sorter.io import SpectrumFileError, read_spectra, read_spectrum, read_spectrum_files
from sorter.io.columns import split_unit
from sorter.io.text import parse_text, parse_text_spectra

FIXTURES = Path(__file__).parent / "fixtures"
WL = np.array([394.38, 394.40, 394.42, 396.13, 396.15, 396.17])
SIGNAL = np.array([120.0, 980.5, 130.25, 210.0, 1890.75, 205.5])


# -- every text fixture: one generic set of checks (pybaselines-style) --------------------------------------

TEXT_FIXTURES = ["spectrasuite.txt", "oceanview_decimal_comma.txt", "avasoft_semicolon.csv", "lambda_dark.tsv",
                 "pieces_side_by_side.csv", "wavelength_angstrom.csv"]


@pytest.mark.parametrize("name", TEXT_FIXTURES)
def test_every_fixture_reads_to_nm_and_the_signal(name):
    spectra = read_spectra(FIXTURES / name)
    first = spectra[0]
    np.testing.assert_allclose(first.wavelength_nm, WL, rtol=1e-15)
    np.testing.assert_allclose(first.intensity, SIGNAL, rtol=1e-12)
    assert all(np.array_equal(s.wavelength_nm, first.wavelength_nm) for s in spectra)


# -- 1. multi-column text: columns by header name --------------------------------------------------------------

def _lambda_dark(n: int = 2048) -> tuple[str, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(32)
    wl = np.round(np.linspace(186.0, 1040.0, n), 4)
    dark = np.round(rng.normal(1000.0, 5.0, n), 1)
    signal = np.round(rng.gamma(2.0, 400.0, n), 1)
    rows = [f"{w!r}\t{s + d!r}\t{d!r}\t{s!r}"
            for w, s, d in zip(wl.tolist(), signal.tolist(), dark.tolist(), strict=True)]
    return "Lambda\tSpectrum\tDark\tSpecMinusDark\n" + "\n".join(rows) + "\n", wl, signal


def test_the_issue_export_reads_its_dark_subtracted_column(tmp_path):
    text, wl, signal = _lambda_dark()
    path = tmp_path / "public_libs_export.txt"
    path.write_text(text)
    s = read_spectrum(path)
    assert s.n_points == 2048
    np.testing.assert_array_equal(s.wavelength_nm, wl)
    np.testing.assert_array_equal(s.intensity, signal)
    assert s.metadata.extra == {"wavelength_column": "Lambda", "intensity_column": "SpecMinusDark"}


def test_sample_and_dark_without_difference_are_subtracted():
    s = read_spectrum(FIXTURES / "avasoft_semicolon.csv")
    assert s.metadata.extra["dark_column"] == "Dark"
    assert (s.metadata.extra["wavelength_column"], s.metadata.extra["intensity_column"]) == ("Wave", "Sample")
    assert s.metadata.extra["Integration_time_ms"] == "1,05"


@pytest.mark.parametrize(("header", "used", "dark"), [
    ("wavelength_nm,Sample - Dark,Sample,Dark", "Sample - Dark", None),
    ("Wavelength (nm),Counts,Dark", "Counts", "Dark"),
    ("nm,intensity,Reference", "intensity", None),
    ("Wave,Scope Corrected for Dark,Scope,Dark", "Scope Corrected for Dark", None),
    ("Reference,spectrum,lambda", "spectrum", None),
])
def test_default_column_names(header, used, dark):
    names = header.split(",")
    wl_at = next(i for i, n in enumerate(names) if n.split(" ")[0].lower() in ("wavelength_nm", "wavelength", "nm",
                                                                              "wave", "lambda"))
    rows = []
    for k in range(3):
        values = [float(10 * (k + 1) + i) for i in range(len(names))]
        values[wl_at] = 400.0 + k
        rows.append(",".join(repr(v) for v in values))
    s = parse_text(header + "\n" + "\n".join(rows) + "\n", "d.csv")
    assert s.metadata.extra["intensity_column"] == used
    assert s.metadata.extra.get("dark_column") == dark
    want = np.array([[float(10 * (k + 1) + i) for i in range(len(names))] for k in range(3)])
    expected = want[:, names.index(used)] - (want[:, names.index(dark)] if dark else 0.0)
    np.testing.assert_array_equal(s.intensity, expected)


def test_options_override_the_choice_by_name_or_number():
    text, _, signal = _lambda_dark(5)
    raw = parse_text(text, "x.txt", intensity_column="spectrum")  # case and blanks do not matter
    assert raw.metadata.extra["intensity_column"] == "Spectrum" and "dark_column" not in raw.metadata.extra
    by_number = parse_text(text, "x.txt", wavelength_column="1", intensity_column="4")
    np.testing.assert_array_equal(by_number.intensity, signal)
    headerless = parse_text("400.0\t7\t1\n401.0\t8\t2\n", "h.txt", intensity_column="3")
    np.testing.assert_array_equal(headerless.intensity, [1.0, 2.0])
    assert headerless.metadata.extra["intensity_column"] == "column 3"


def test_two_columns_keep_todays_reading_and_metadata():
    s = parse_text("Wellenlänge;Intensität\n394,401;1234,5\n", "de.csv")
    assert s.metadata.extra == {}
    s = parse_text("Intensity,Wavelength\n7,400.0\n8,401.0\n", "swapped.csv")  # a name says which is which
    np.testing.assert_array_equal(s.wavelength_nm, [400.0, 401.0])


# -- 2. vendor text exports ----------------------------------------------------------------------------------

def test_spectrasuite_header_block_goes_to_metadata():
    s = read_spectrum(FIXTURES / "spectrasuite.txt")
    np.testing.assert_array_equal(s.wavelength_nm, WL)
    np.testing.assert_array_equal(s.intensity, SIGNAL)
    assert s.metadata.extra["Spectrometer_Serial_Number"] == "HR4C0001"
    assert s.metadata.extra["Integration_Time_usec"] == "1000 (HR4C0001)"
    assert s.metadata.extra["Number_of_Pixels_in_Processed_Spectrum"] == "6"


def test_oceanview_with_decimal_commas():
    s = read_spectrum(FIXTURES / "oceanview_decimal_comma.txt")
    np.testing.assert_array_equal(s.intensity, SIGNAL)
    assert s.metadata.extra["XAxis_mode"] == "Wavelengths"


def test_side_by_side_reads_as_many_spectra_named_by_their_header():
    spectra = read_spectra(FIXTURES / "pieces_side_by_side.csv")
    assert [s.metadata.extra["intensity_column"] for s in spectra] == ["P-0101", "P-0102", "P-0103"]
    np.testing.assert_array_equal(spectra[1].intensity, 2 * SIGNAL)
    assert all(s.metadata.instrument == "plant-libs" for s in spectra)
    named = read_spectrum_files([FIXTURES / "pieces_side_by_side.csv", FIXTURES / "spectrasuite.txt"])
    assert [n.rsplit("/", 1)[-1] for n, _ in named] == ["pieces_side_by_side.csv#P-0101",
                                                        "pieces_side_by_side.csv#P-0102",
                                                        "pieces_side_by_side.csv#P-0103", "spectrasuite.txt"]
    one = read_spectrum(FIXTURES / "pieces_side_by_side.csv", intensity_column="P-0103")
    np.testing.assert_array_equal(one.intensity, SIGNAL / 4)


def test_read_spectrum_refuses_several_spectra_and_points_to_read_spectra():
    with pytest.raises(SpectrumFileError, match=r"pieces_side_by_side\.csv: holds 3 spectra side by side "
                                                r"\(P-0101, P-0102, P-0103\); read them with read_spectra, "
                                                r"or choose one with --intensity-column"):
        read_spectrum(FIXTURES / "pieces_side_by_side.csv")


@pytest.mark.parametrize(("text", "factor"), [
    ("Wavelength (Å),Counts\n{a}\n", 10.0),
    ("Wavelength [A],Counts\n{a}\n", 10.0),
    ("wavelength_A,counts\n{a}\n", 10.0),
    ("Wavelength [um]\tcounts\n{t}\n", 1e-3),
    ("wavelength_µm;counts\n{s}\n", 1e-3),
    ("Wave;Sample\n[Å];[counts]\n{s}\n", 10.0),
    ("x units: Angstrom\nWavelength;Counts\n{s}\n", 10.0),
    ("Spectrometer: X\nWavelength unit: micrometres\n>>>>>Begin Spectral Data<<<<<\n{t}\n", 1e-3),
    ("Wavelength (nm) Counts\n{b}\n", 1.0),
    ("Wavelength (Å) Counts\n{b}\n", 10.0),
])
def test_wavelength_units_said_in_the_header_become_nm(text, factor):
    w = (WL[:3] * factor).tolist()
    rows = {"a": "\n".join(f"{x!r},{i}" for i, x in enumerate(w)),
            "t": "\n".join(f"{x!r}\t{i}" for i, x in enumerate(w)),
            "s": "\n".join(f"{x!r};{i}" for i, x in enumerate(w)),
            "b": "\n".join(f"{x!r} {i}" for i, x in enumerate(w))}
    s = parse_text(text.format(**rows), "u.txt")
    np.testing.assert_allclose(s.wavelength_nm, WL[:3], rtol=1e-15)


def test_angstrom_fixture_records_the_column_it_converted():
    s = read_spectrum(FIXTURES / "wavelength_angstrom.csv")
    assert s.metadata.extra["wavelength_column"] == "Wavelength (Å)"


@pytest.mark.parametrize(("name", "base", "unit"), [
    ("Wavelength (Å)", "Wavelength", "Å"), ("Wavelength [um]", "Wavelength", "um"),
    ("wavelength_A", "wavelength", "A"), ("wavelength_nm", "wavelength", "nm"), ("Sample_B", "Sample_B", ""),
    ("Sample - Dark", "Sample - Dark", ""), ("Intensity (a.u.)", "Intensity", "a.u."),
])
def test_split_unit(name, base, unit):
    assert split_unit(name) == (base, unit)


# -- 3. round trips: a vendor-form text written from random spectra reads back equal ------------------------

def _num(x: float, comma: bool) -> str:
    return repr(x).replace(".", ",") if comma else repr(x)


FORMS = ["spectrasuite", "avasoft", "lambda_dark", "side_by_side"]
UNITS = {"nm": 1.0, "Å": 10.0, "µm": 1e-3}


def _vendor_text(form: str, wl: np.ndarray, columns: dict[str, np.ndarray], dark: np.ndarray, delimiter: str,
                 comma: bool, unit: str) -> str:
    """A file in ``form``, written from the layout's description; wavelengths given in nm, written in ``unit``."""
    d = delimiter
    w = (wl * UNITS[unit]).tolist()
    columns = {name: v.tolist() for name, v in columns.items()}
    dark = dark.tolist()
    first = next(iter(columns.values()))
    if form == "spectrasuite":
        head = ["SpectraSuite Data File", "+" * 36, "Date: Wed Nov 25 14:03:00 CET 2026",
                f"Wavelength unit: {unit}", ">>>>>Begin Processed Spectral Data<<<<<"]
        body = [f"{_num(x, comma)}{d}{_num(y, comma)}" for x, y in zip(w, first, strict=True)]
        return "\n".join(head + body + [">>>>>End Processed Spectral Data<<<<<"]) + "\n"
    if form == "avasoft":
        head = ["AvaSoft export", f"Integration time [ms]: {_num(1.05, comma)}",
                d.join(["Wave", "Sample", "Dark"]), d.join([f"[{unit}]", "[counts]", "[counts]"]), ""]
        body = [d.join(_num(v, comma) for v in (x, y + z, z)) for x, y, z in zip(w, first, dark, strict=True)]
        return "\r\n".join(head + body) + "\r\n"
    if form == "lambda_dark":
        head = [d.join([f"Lambda ({unit})", "Spectrum", "Dark", "SpecMinusDark"])]
        body = [d.join(_num(v, comma) for v in (x, y + z, z, y)) for x, y, z in zip(w, first, dark, strict=True)]
        return "\n".join(head + body) + "\n"
    head = [d.join([f"Wavelength [{unit}]", *columns])]
    body = [d.join(_num(v, comma) for v in (x, *row)) for x, *row in zip(w, *columns.values(), strict=True)]
    return "\n".join(head + body) + "\n"


@settings(max_examples=120, deadline=None)
@given(
    wl=st.lists(st.floats(150.0, 1100.0), min_size=1, max_size=25, unique=True).map(sorted),
    data=st.data(),
    form=st.sampled_from(FORMS),
    delimiter=st.sampled_from(["\t", ";"]),
    comma=st.booleans(),
    unit=st.sampled_from(list(UNITS)),
    names=st.lists(st.from_regex(r"[A-Z][A-Za-z0-9\-]{0,8}", fullmatch=True), min_size=2, max_size=5, unique=True),
)
def test_vendor_forms_read_back_what_was_written(wl, data, form, delimiter, comma, unit, names):
    wl = np.array(wl)
    if np.any(np.diff(wl * UNITS[unit]) <= 0):  # distinct nm values that one unit cannot hold apart
        return
    values = st.lists(st.floats(0.0, 1e6, allow_nan=False), min_size=len(wl), max_size=len(wl)).map(np.array)
    columns = {n: data.draw(values) for n in (names if form == "side_by_side" else names[:1])}
    dark = np.round(data.draw(values), 0)
    text = _vendor_text(form, wl, columns, dark, delimiter, comma, unit)
    spectra = parse_text_spectra(text, "v.txt")
    assert len(spectra) == len(columns)
    for s, (name, want) in zip(spectra, columns.items(), strict=True):
        if unit == "nm":
            np.testing.assert_array_equal(s.wavelength_nm, wl)
        else:
            np.testing.assert_allclose(s.wavelength_nm, wl, rtol=4.5e-16)  # two roundings
        if form == "avasoft":  # (signal + dark) - dark is exact to the last bit of the sum
            np.testing.assert_allclose(s.intensity, want, rtol=0, atol=np.spacing(np.max(want + dark)))
        else:
            np.testing.assert_array_equal(s.intensity, want)
        if form == "side_by_side":
            assert s.metadata.extra["intensity_column"] == name


# -- 4. errors name file, line and field; columns that cannot be chosen are listed with the option ----------

@pytest.mark.parametrize(("text", "options", "match"), [
    ("Lambda\tSpectrum\tDark\tSpecMinusDark\n300.1\t10\t2\n",
     {}, r"v\.txt line 2: 3 fields split at tab; expected 4 \(Lambda, Spectrum, Dark, SpecMinusDark\)"),
    ("Lambda\tSpectrum\tDark\tSpecMinusDark\n300.1\t10\t2\tabc\n",
     {}, r"v\.txt line 2, SpecMinusDark: 'abc' is not a number"),
    ("x;a;b\n1;2;3\n", {}, r"v\.txt line 1: cannot tell which column is the wavelength; columns found: x, a, b; "
                           "choose it with --wavelength-column"),
    ("wavelength;intensity;counts\n1;2;3\n", {},
     r"v\.txt line 1: 2 columns could be the intensity \(intensity, counts\); columns found: wavelength, "
     "intensity, counts; choose one with --intensity-column"),
    ("Wavelength;Lambda;I\n1;2;3\n", {}, r"2 columns could be the wavelength \(Wavelength, Lambda\).*"
                                         "--wavelength-column"),
    ("Lambda\tSpectrum\tDark\n300.1\t10\t2\n", {"intensity_column": "Signal"},
     r"v\.txt line 1, --intensity-column: no column named 'Signal'; columns found: Lambda, Spectrum, Dark"),
    ("Lambda\tSpectrum\tDark\n300.1\t10\t2\n", {"intensity_column": "Lambda"},
     r"--intensity-column: Lambda is the wavelength column"),
    ("400\t1\t2\n401\t1\t2\n", {"intensity_column": "7"}, r"--intensity-column: column 7 does not exist"),
    ("400\t1\t2\n401\t1\t2\n", {}, r"v\.txt line 1: 3 fields split at tab; expected 2 \(wavelength_nm, "
                                   r"intensity\); a file of more columns needs a header row naming them, or "
                                   "--wavelength-column / --intensity-column"),
    ("Wavelength;P1;P1\n400;1;2\n", {}, r"v\.txt line 1, P1: columns 2 and 3 have the same name"),
    ("Wavelength (cm-1);I\n400;1\n", {}, r"v\.txt line 1, Wavelength \(cm-1\): unit 'cm-1' is not nm, Å"),
    ("x units: eV\nWavelength;I\n400;1\n", {}, r"v\.txt line 1, x units: unit 'eV' is not nm"),
    ("x units: nm\nWavelength (Å);I\n400;1\n", {}, r"v\.txt line 1, x units: says 'nm' but Wavelength \(Å\) "
                                                   "says 'Å'"),
    ("XAxis mode: Raman Shifts\n>>>>>Begin Spectral Data<<<<<\n400\t1\n", {},
     r"v\.txt line 1, XAxis mode: the x axis is 'Raman Shifts'; only spectra against wavelength"),
    (">>>>>Begin Spectral Data<<<<<\n400\t1\n>>>>>End Spectral Data<<<<<\n401\t2\n", {},
     r"v\.txt line 4: '401\\t2' comes after the end-of-data marker on line 3"),
    ("Wavelength\tA\tB\tC\n[nm]\n400\t1\t2\t3\n", {}, None),
    ("Date: today\nWavelength Sample Dark Spec\n400;1;2\n", {},
     r"v\.txt line 2: the header row does not split into the 3 columns of the data on line 3"),
])
def test_errors_name_file_line_and_field(text, options, match):
    if match is None:  # a lone unit cell is the header row here and too short: still refused, by the header
        match = r"v\.txt line 2: the header row does not split into the 4 columns"
    with pytest.raises(SpectrumFileError, match=match):
        parse_text_spectra(text, "v.txt", **options)
