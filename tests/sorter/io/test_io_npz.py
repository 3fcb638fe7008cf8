"""SpectrumBatch .npz files: exact round trip, no pickle, errors naming the key."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sorter.batch import SpectrumBatch
from sorter.io import SpectrumFileError, load_batch, save_batch
from sorter.io.npz import FORMAT


def _batch(n=4, p=7, with_comp=True):
    rng = np.random.default_rng(1)
    return SpectrumBatch(
        wavelength_nm=np.linspace(390.0, 400.0, p), intensity=rng.gamma(2, 100, (n, p)),
        labels=np.array(["5182", "6063", "brass", ""][:n]), elements=("Mg", "Si", "Cu"),
        composition_wt_pct=np.where(rng.random((n, 3)) < 0.2, np.nan, rng.random((n, 3))) if with_comp else None,
        instrument="broadband", meta={"seed": np.arange(n), "T_e_K": rng.uniform(8e3, 12e3, n),
                                      "piece_id": np.array([f"P{i}" for i in range(n)])})


def _assert_same(a: SpectrumBatch, b: SpectrumBatch):
    np.testing.assert_array_equal(a.wavelength_nm, b.wavelength_nm)
    np.testing.assert_array_equal(a.intensity, b.intensity)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.elements == b.elements
    assert a.instrument == b.instrument
    if a.composition_wt_pct is None:
        assert b.composition_wt_pct is None
    else:
        np.testing.assert_array_equal(a.composition_wt_pct, b.composition_wt_pct)  # NaN == NaN here
    assert a.meta.keys() == b.meta.keys()
    for key in a.meta:
        np.testing.assert_array_equal(a.meta[key], b.meta[key])
        assert np.asarray(a.meta[key]).dtype == b.meta[key].dtype


@pytest.mark.parametrize("with_comp", [True, False])
def test_round_trip(tmp_path, with_comp):
    batch = _batch(with_comp=with_comp)
    before = batch.intensity.copy()
    path = save_batch(tmp_path / "b.npz", batch)
    _assert_same(batch, load_batch(path))
    np.testing.assert_array_equal(batch.intensity, before)


def test_suffix_added_and_returned(tmp_path):
    path = save_batch(tmp_path / "train", _batch())
    assert path.name == "train.npz" and path.exists()


def test_spectrum_view_of_loaded_batch(tmp_path):
    back = load_batch(save_batch(tmp_path / "b.npz", _batch()))
    assert back.spectrum(2).metadata.piece_id == "P2"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 5), p=st.integers(1, 20), data=st.data())
def test_round_trip_random(tmp_path, n, p, data):
    it = data.draw(hnp.arrays(np.float64, (n, p), elements=st.floats(allow_nan=False, allow_infinity=False)))
    comp = data.draw(hnp.arrays(np.float64, (n, 2), elements=st.floats(0, 100) | st.just(np.nan)))
    labels = data.draw(st.lists(st.text(max_size=8), min_size=n, max_size=n))
    labels = [lab.replace("\x00", "") for lab in labels]  # NumPy unicode arrays drop trailing NULs
    batch = SpectrumBatch(np.cumsum(np.full(p, 0.5)) + 100, it, np.array(labels, dtype=str), ("Fe", "Zn"), comp,
                          "x", {"k": np.arange(n, dtype=np.int32)})
    _assert_same(batch, load_batch(save_batch(tmp_path / "r.npz", batch)))


def _arrays(batch: SpectrumBatch) -> dict:
    return {"format": np.array(FORMAT), "format_version": np.array(1), "wavelength_nm": batch.wavelength_nm,
            "intensity": batch.intensity, "labels": batch.labels, "elements": np.array(batch.elements),
            "instrument": np.array(batch.instrument), "composition_wt_pct": batch.composition_wt_pct}


@pytest.mark.parametrize(("change", "match"), [
    (lambda a: a.pop("intensity"), r"bad\.npz, intensity: is missing"),
    (lambda a: a.pop("labels"), r"bad\.npz, labels: is missing"),
    (lambda a: a.update(labels=np.array(["a"])), r"bad\.npz, labels: has shape \(1,\); expected \(4,\)"),
    (lambda a: a.update(intensity=np.ones((4, 3))), r"bad\.npz, intensity: has shape \(4, 3\); expected"),
    (lambda a: a.update(composition_wt_pct=np.ones((4, 2))),
     r"bad\.npz, composition_wt_pct: has shape \(4, 2\); expected \(4, 3\)"),
    (lambda a: a.update({"meta.seed": np.arange(3)}), r"bad\.npz, meta\.seed: has shape \(3,\); expected \(4,\)"),
    (lambda a: a.update(format_version=np.array(99)), r"bad\.npz, format_version: 99 is not supported"),
    (lambda a: a.update(format=np.array("other")), r"bad\.npz, format: other is not"),
    (lambda a: a.update({"meta.obj": np.array([{}, {}, {}, {}], dtype=object)}),
     r"bad\.npz, meta\.obj: cannot be read without pickle"),
])
def test_bad_files_name_the_key(tmp_path, change, match):
    arrays = _arrays(_batch())
    change(arrays)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(SpectrumFileError, match=match):
        load_batch(tmp_path / "bad.npz")


def test_not_an_npz(tmp_path):
    (tmp_path / "x.npz").write_text("hello")
    with pytest.raises(SpectrumFileError, match=r"x\.npz: is not a NumPy \.npz batch file"):
        load_batch(tmp_path / "x.npz")


def test_object_meta_refused_on_save(tmp_path):
    batch = _batch()
    batch.meta["bad"] = np.array([None] * 4, dtype=object)
    with pytest.raises(ValueError, match=r"meta\['bad'\]: holds Python objects"):
        save_batch(tmp_path / "o.npz", batch)
