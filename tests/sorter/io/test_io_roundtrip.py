"""Generic checks every spectrum writer/reader pair passes (pybaselines-style: one set, each format named)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sorter.io import read_spectrum, write_spectrum
from sorter.spectrum import Metadata, Spectrum

# (id, file name, writer options, tolerance on intensity relative to max |intensity|)
# difdup: the writer scales the largest |intensity| to 1e9 integer units, so rounding is at most half a unit.
FORMATS = [
    ("csv", "s.csv", {}, 0.0),
    ("jcamp-affn", "s.jdx", {}, 0.0),
    ("jcamp-difdup", "s.jdx", {"compression": "difdup"}, 0.5e-9 * (1 + 1e-12)),
]
IDS = [f[0] for f in FORMATS]


def _metadata() -> Metadata:
    return Metadata(instrument="broadband", shots=8,
                    timestamp=datetime(2026, 11, 25, 14, 3, 7, 250000, tzinfo=timezone(timedelta(hours=1))),
                    piece_id="P-0017", extra={"title": "5182 can body, line 2", "operator": "A. Novak"})


def _uniform_spectrum(n: int = 257) -> Spectrum:
    wl = np.linspace(380.0, 420.0, n)
    rng = np.random.default_rng(4)
    return Spectrum(wl, rng.gamma(2.0, 400.0, n) + 50.0, _metadata())


def _round_trip(tmp_path, spectrum, name, options):
    path = write_spectrum(tmp_path / name, spectrum, **options)
    return read_spectrum(path)


def _assert_close(got, want, rel_to_max):
    want = np.asarray(want)
    tol = rel_to_max * float(np.max(np.abs(want)))
    assert got.shape == want.shape
    assert np.max(np.abs(got - want)) <= tol


@pytest.mark.parametrize(("fmt", "name", "options", "tol"), FORMATS, ids=IDS)
class TestEveryFormat:
    def test_values_survive(self, tmp_path, fmt, name, options, tol):
        s = _uniform_spectrum()
        back = _round_trip(tmp_path, s, name, options)
        np.testing.assert_array_equal(back.wavelength_nm, s.wavelength_nm)
        _assert_close(back.intensity, s.intensity, tol)

    def test_metadata_survives(self, tmp_path, fmt, name, options, tol):
        s = _uniform_spectrum()
        assert _round_trip(tmp_path, s, name, options).metadata == s.metadata

    def test_empty_metadata_survives_apart_from_title(self, tmp_path, fmt, name, options, tol):
        s = Spectrum([400.0, 401.0, 402.5], [1.0, 2.0, 3.0])
        md = _round_trip(tmp_path, s, name, options).metadata
        assert (md.instrument, md.shots, md.timestamp, md.piece_id) == ("", None, None, "")
        assert set(md.extra) <= {"title"}  # JCAMP-DX requires a title; the writer supplies one

    def test_input_unchanged(self, tmp_path, fmt, name, options, tol):
        wl = np.linspace(390.0, 400.0, 11)
        it = np.arange(11.0) * 3.5
        wl_copy, it_copy = wl.copy(), it.copy()
        s = Spectrum(wl, it)
        _round_trip(tmp_path, s, name, options)
        np.testing.assert_array_equal(wl, wl_copy)
        np.testing.assert_array_equal(it, it_copy)
        np.testing.assert_array_equal(s.intensity, it_copy)

    def test_output_increasing_and_same_length(self, tmp_path, fmt, name, options, tol):
        s = _uniform_spectrum(31)
        back = _round_trip(tmp_path, s, name, options)
        assert back.n_points == 31
        assert np.all(np.diff(back.wavelength_nm) > 0)

    def test_single_point(self, tmp_path, fmt, name, options, tol):
        s = Spectrum([396.152], [1234.0])
        back = _round_trip(tmp_path, s, name, options)
        np.testing.assert_array_equal(back.wavelength_nm, [396.152])
        np.testing.assert_array_equal(back.intensity, [1234.0])

    def test_non_uniform_grid_exact(self, tmp_path, fmt, name, options, tol):
        # A real spectrometer's pixel grid follows a polynomial dispersion, not equal steps.
        pix = np.arange(200.0)
        wl = 250.0 + 0.05 * pix + 2e-5 * pix**2
        s = Spectrum(wl, 100.0 + pix, _metadata())
        back = _round_trip(tmp_path, s, name, options)
        np.testing.assert_array_equal(back.wavelength_nm, wl)
        np.testing.assert_array_equal(back.intensity, s.intensity)  # whole numbers: exact in every form

    def test_writing_twice_gives_same_file(self, tmp_path, fmt, name, options, tol):
        s = _uniform_spectrum(40)
        a = write_spectrum(tmp_path / ("a_" + name), s, **options).read_text()
        b = write_spectrum(tmp_path / ("b_" + name), read_spectrum(tmp_path / ("a_" + name)), **options).read_text()
        if tol == 0.0:
            assert a == b
        else:
            # difdup rounds once: the data lines of the rewrite are the same, and only the header's
            # exact MINY/FIRSTY move, by at most the rounding; a third write changes nothing
            data_a = [line for line in a.splitlines() if not line.startswith("##")]
            data_b = [line for line in b.splitlines() if not line.startswith("##")]
            assert data_a == data_b
            head_a = dict(line.split("=", 1) for line in a.splitlines() if line.startswith("##"))
            head_b = dict(line.split("=", 1) for line in b.splitlines() if line.startswith("##"))
            assert head_a.keys() == head_b.keys()
            moved = {k for k in head_a if head_a[k] != head_b[k]}
            assert moved <= {"##MINY", "##FIRSTY"}
            peak = float(np.max(np.abs(s.intensity)))
            for k in moved:
                assert abs(float(head_a[k]) - float(head_b[k])) <= tol * peak
            c = write_spectrum(tmp_path / ("c_" + name), read_spectrum(tmp_path / ("b_" + name)), **options)
            assert c.read_text() == b


# Random grids and intensities, including huge and tiny magnitudes.
_magnitude = st.floats(min_value=-300, max_value=300).map(lambda e: 10.0**e)
_intensity = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.tuples(st.sampled_from([-1.0, 1.0]), _magnitude, st.floats(1.0, 9.999)).map(lambda t: t[0] * t[1] * t[2]),
)


@st.composite
def spectra(draw, min_size=1, max_size=60, intensity=_intensity, uniform=False):
    n = draw(st.integers(min_size, max_size))
    if uniform:
        first = draw(st.floats(0.01, 1e5))
        step = draw(st.floats(1e-4, 10.0))
        wl = np.linspace(first, first + step * (n - 1), n)
    else:
        values = draw(st.lists(st.floats(1e-3, 1e6, allow_nan=False), min_size=n, max_size=n, unique=True))
        wl = np.sort(np.array(values))
    it = np.array(draw(st.lists(intensity, min_size=n, max_size=n)))
    return Spectrum(wl, it)


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(s=spectra())
def test_csv_round_trip_is_exact(tmp_path, s):
    back = _round_trip(tmp_path, s, "h.csv", {})
    np.testing.assert_array_equal(back.wavelength_nm, s.wavelength_nm)
    np.testing.assert_array_equal(back.intensity, s.intensity)


@SETTINGS
@given(s=st.one_of(spectra(), spectra(uniform=True)))
def test_jcamp_affn_round_trip(tmp_path, s):
    back = _round_trip(tmp_path, s, "h.jdx", {})
    # Equal steps go to XYDATA, read back as linspace(FIRSTX, LASTX, n): within 1e-6 of a step by contract.
    if s.n_points > 1:
        step = (s.wavelength_nm[-1] - s.wavelength_nm[0]) / (s.n_points - 1)
        assert np.max(np.abs(back.wavelength_nm - s.wavelength_nm)) <= 1e-6 * step
    else:
        np.testing.assert_array_equal(back.wavelength_nm, s.wavelength_nm)
    np.testing.assert_array_equal(back.intensity, s.intensity)


_moderate = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.tuples(st.sampled_from([-1.0, 1.0]), st.floats(-200, 200).map(lambda e: 10.0**e), st.floats(1.0, 9.999))
    .map(lambda t: t[0] * t[1] * t[2]),
    st.integers(-(2**40), 2**40).map(float),
)


@SETTINGS
@given(s=st.one_of(spectra(intensity=_moderate), spectra(intensity=_moderate, uniform=True)))
def test_jcamp_difdup_round_trip_within_stated_precision(tmp_path, s):
    back = _round_trip(tmp_path, s, "h.jdx", {"compression": "difdup"})
    peak = float(np.max(np.abs(s.intensity)))
    if np.all(s.intensity == np.round(s.intensity)) and peak < 2.0**53:  # whole counts: YFACTOR=1, exact
        np.testing.assert_array_equal(back.intensity, s.intensity)
    else:
        assert np.max(np.abs(back.intensity - s.intensity)) <= 0.5e-9 * peak * (1 + 1e-9)
    assert back.n_points == s.n_points


_one_line = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=24).map(str.strip)
_key = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda k: k.replace("_", "") not in ("title", "instrument", "shots", "timestamp", "pieceid"))


@st.composite
def metadata(draw):
    keys = draw(st.lists(_key, max_size=4, unique_by=lambda k: k.replace("_", "")))
    extra = {"title": draw(_one_line.filter(bool))}
    extra.update({k: draw(_one_line) for k in keys})
    offset = draw(st.none() | st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m))))
    ts = draw(st.none() | st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)))
    md = Metadata(instrument=draw(_one_line), shots=draw(st.none() | st.integers(0, 10**6)),
                  timestamp=None if ts is None else ts.replace(tzinfo=offset), piece_id=draw(_one_line),
                  extra=extra)
    return md


@pytest.mark.parametrize(("fmt", "name", "options", "tol"), FORMATS, ids=IDS)
@SETTINGS
@given(md=metadata())
def test_random_metadata_survives(tmp_path, fmt, name, options, tol, md):
    if "$$" in "".join([md.instrument, md.piece_id, *md.extra.values()]) and name.endswith(".jdx"):
        return  # refused by the JCAMP-DX writer, tested in test_io_jcamp
    s = Spectrum([400.0, 401.0], [1.0, 2.0], md)
    assert _round_trip(tmp_path, s, name, options).metadata == md
