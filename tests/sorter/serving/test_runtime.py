import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sorter.preprocess.grid import resample, same_grid
from sorter.serving.registry import choose_model
from sorter.serving.runtime import LibsRuntime
from sorter.spectrum import Metadata, Spectrum, SpectrumError
from tests.support.libs_fixtures import GRID


def test_serving_never_imports_scikit_learn(toy_trained):
    code = f"""
import sys, json, numpy as np
from sorter.serving.runtime import LibsRuntime
from sorter.spectrum import Spectrum
rt = LibsRuntime.load({str(toy_trained.model_path)!r})
wl = np.linspace(245.0, 415.0, 1800)
r = rt.classify(Spectrum(wl, np.full(wl.size, 300.0)))
print(json.dumps({{"sklearn": any(m == "sklearn" or m.startswith("sklearn.") for m in sys.modules),
                   "skl2onnx": "skl2onnx" in sys.modules, "decision": r.decision}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"sklearn": False, "skl2onnx": False, "decision": "unknown"}


def test_the_cli_classify_path_imports_no_scikit_learn():
    code = ("import sys; import aluloop.cli; import sorter.serving.runtime; "
            "print(any(m.startswith('sklearn') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_another_grid_is_resampled_to_the_same_answer(toy_trained, toy_data):
    _, (X, y, _, _) = toy_data
    rt = LibsRuntime.load(toy_trained.model_path)
    direct = rt.classify_array(GRID, X)
    fine = np.linspace(GRID[0] - 5, GRID[-1] + 5, 4 * GRID.size)
    # a finer grid carrying the same (linearly interpolated) spectrum classifies the same way
    via = rt.classify_array(fine, resample(GRID, X, fine))
    agree = np.mean([a.grade == b.grade for a, b in zip(direct, via, strict=True)])
    assert agree >= 0.95
    assert np.mean([a.grade == t for a, t in zip(direct, y, strict=True)]) > 0.8


def test_json_has_the_fields_the_issue_lists(toy_trained, toy_data):
    _, (X, *_), = toy_data
    rt = LibsRuntime.load(toy_trained.model_path)
    r = rt.classify(Spectrum(GRID, X[0])).to_json("a.csv")
    assert {"file", "grade", "family", "probabilities", "composition_wt_pct", "decision", "reason"} <= set(r)
    assert len(r["probabilities"]) == 3 and r["decision"] in ("accept", "unknown")
    assert set(r["composition_wt_pct"]) == set(toy_trained.card.elements)


def test_composition_intervals_stay_inside_0_to_100_wt_pct(toy_trained, toy_data):
    _, (X, *_), = toy_data
    rt = LibsRuntime.load(toy_trained.model_path)
    out = rt.run(X[:3].astype(np.float32))
    comp = out["composition_wt_pct"].astype(np.float64)
    # an empty shot's interval is hundreds of wt% wide: reported, it still cannot leave 0-100 wt%
    out["interval_halfwidth_wt_pct"] = np.full_like(out["interval_halfwidth_wt_pct"], 500.0)
    for r in rt.interpret(out):
        assert all(iv == (0.0, 100.0) for iv in r.interval_wt_pct.values())
    out["interval_halfwidth_wt_pct"] = np.zeros_like(out["interval_halfwidth_wt_pct"])
    for i, r in enumerate(rt.interpret(out)):
        for k, e in enumerate(rt.card.elements):
            assert r.interval_wt_pct[e] == (round(comp[i, k], 4),) * 2


def test_a_grid_outside_the_model_range_is_an_error(toy_trained):
    rt = LibsRuntime.load(toy_trained.model_path)
    wl = np.linspace(600.0, 700.0, 100)
    with pytest.raises(SpectrumError, match="the model toy.onnx needs 240-420 nm"):
        rt.classify(Spectrum(wl, np.ones(wl.size)))


def test_a_grid_that_misses_a_line_window_is_sent_round_without_composition(toy_trained, toy_data):
    """Cut the grid inside the last line window: every piece is unknown, naming it, and no composition is served."""
    _, (X, *_), = toy_data
    rt = LibsRuntime.load(toy_trained.model_path)
    last = max(toy_trained.card.line_windows, key=lambda w: w["hi_nm"])
    keep = GRID <= 0.5 * (last["lo_nm"] + last["hi_nm"])
    full = rt.classify_array(GRID, X[:20])
    cut = rt.classify_array(GRID[keep], X[:20, keep])
    x_cut, coverage = rt.to_grid(GRID[keep], X[:20, keep])
    assert coverage.missing_windows == (last["name"],)
    raw = rt.run(x_cut.astype(np.float32))
    # what would be served otherwise: the estimate reads the missing window, so it moves
    assert np.max(np.abs(raw["composition_wt_pct"] - rt.run(X[:20].astype(np.float32))["composition_wt_pct"])) > 1e-3
    assert any(a.decision == "accept" for a in full)
    for a, b in zip(full, cut, strict=True):
        assert a.composition_note == "" and all(isinstance(v, float) for v in a.composition_wt_pct.values())
        assert b.decision == "unknown" and last["name"] in b.reason and "misses 1 of the model's" in b.reason
        assert set(b.composition_wt_pct) == set(toy_trained.card.elements)
        assert all(v is None for v in b.composition_wt_pct.values())
        assert all(v is None for v in b.interval_wt_pct.values())
        assert last["name"] in b.composition_note and "withheld" in b.composition_note
    # grade, family and probabilities are still the graph's own on the cut grid
    assert [(r.grade, r.probabilities) for r in cut] == [(r.grade, r.probabilities) for r in rt.interpret(raw)]
    js = json.loads(json.dumps(cut[0].to_json("cut.csv")))
    assert js["composition_wt_pct"] == dict.fromkeys(toy_trained.card.elements) and js["decision"] == "unknown"


def test_a_grid_must_span_each_window_with_its_background_bands(toy_trained, toy_data):
    _, (X, *_), = toy_data
    rt = LibsRuntime.load(toy_trained.model_path)
    windows = toy_trained.card.line_windows
    lo = min(w["footprint_lo_nm"] for w in windows)
    hi = max(w["footprint_hi_nm"] for w in windows)
    keep = (GRID >= lo) & (GRID <= hi)
    assert keep.sum() < GRID.size
    r = rt.classify_array(GRID[keep], X[:3, keep], instrument=toy_trained.card.instrument)
    assert all(x.composition_note == "" and not x.reason.startswith("grid ") for x in r)
    # stop between the last window and the end of its right band: that window is missing
    last = max(windows, key=lambda w: w["footprint_hi_nm"])
    short = GRID <= 0.5 * (last["hi_nm"] + last["footprint_hi_nm"])
    assert GRID[short][-1] > last["hi_nm"]
    assert last["name"] in rt.to_grid(GRID[short], X[:1, short])[1].missing_windows


def test_another_spectrometers_spectrum_gets_grade_and_family_but_no_composition(toy_trained, toy_data):
    """Named as another instrument, or on another grid without a name: composition withheld, the rest served."""
    _, (X, *_), = toy_data
    rt = LibsRuntime.load(toy_trained.model_path)
    own = toy_trained.card.instrument
    fine = np.linspace(GRID[0] - 5, GRID[-1] + 5, 4 * GRID.size)
    Xf = resample(GRID, X[:10], fine)
    cases = {"named, own grid": (GRID, X[:10], "plant-b"), "unnamed, other grid": (fine, Xf, ""),
             "named own, other grid": (fine, Xf, own), "unnamed, own grid": (GRID, X[:10], "")}
    got = {k: rt.classify_array(wl, x, instrument=inst) for k, (wl, x, inst) in cases.items()}
    for k in ("named, own grid", "unnamed, other grid"):
        for r, ref in zip(got[k], got["unnamed, own grid"] if k.endswith("own grid") else got["named own, other grid"],
                          strict=True):
            assert set(r.composition_wt_pct.values()) == {None} and own in r.composition_note
            assert (r.grade, r.family, r.decision, r.probabilities) == (ref.grade, ref.family, ref.decision,
                                                                        ref.probabilities)
    assert "'plant-b'" in got["named, own grid"][0].composition_note
    for k in ("named own, other grid", "unnamed, own grid"):
        assert all(r.composition_note == "" and None not in r.composition_wt_pct.values() for r in got[k])
    # a mixed batch of files is split by instrument as well as by grid
    spectra = [Spectrum(GRID, X[0], Metadata(instrument="plant-b")), Spectrum(GRID, X[1], Metadata(instrument=own))]
    a, b = rt.classify_many(spectra)
    assert a.composition_note and not b.composition_note


def test_choose_model_prefers_the_instrument_name_then_coverage(toy_trained):
    cards = {"toy": (toy_trained.model_path, toy_trained.card), "other": (toy_trained.model_path, None)}
    s = Spectrum(GRID, np.ones(GRID.size), Metadata(instrument="toy-instrument"))
    assert choose_model(s, {"toy": cards["toy"]}) == "toy"


def test_a_model_trained_with_plasma_terms_serves_them(toy_data, tmp_path):
    """``train(plasma_terms=True)``: the state stage runs, and the served composition is the model's own."""
    import warnings

    from sorter.training.data import TrainingData
    from sorter.training.train import train

    (X, y, Y, el), (Xt, *_rest) = toy_data
    rng = np.random.default_rng(9)
    state = np.column_stack([rng.uniform(0.7, 1.25, len(y)), rng.uniform(np.log(1e16), np.log(1e18), len(y))])
    stages = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = train(TrainingData(GRID, X, y, el, Y, "toy-instrument", "toy", 65535.0, plasma_state=state),
                       tmp_path / "terms.onnx", max_iter=100, hidden_layer_sizes=(32,), plasma_terms=True,
                       n_members=2, progress=lambda desc, done, total: stages.append(desc))
    assert "training: plasma state" in stages and result.model.state_ is not None
    assert len(result.model.classifier_.estimators_) == 2
    served = LibsRuntime.load(result.model_path).run(Xt.astype(np.float32))["composition_wt_pct"]
    np.testing.assert_allclose(served, result.model.outputs(Xt)["composition_wt_pct"], rtol=2e-4, atol=2e-3)


@settings(max_examples=200, deadline=None)
@given(shift_nm=st.one_of(st.just(0.0), st.floats(-2e-6, 2e-6), st.floats(-1.0, 1.0)),
       pixel=st.integers(0, 9), special=st.sampled_from([None, np.nan, np.inf, -np.inf]),
       cut=st.booleans())
def test_the_model_grid_check_agrees_with_same_grid(toy_trained, shift_nm, pixel, special, cut):
    """The quick check before np.allclose answers what same_grid answers, NaN, infinities and sizes included."""
    runtime = _toy_runtime(toy_trained)
    grid = np.array(runtime.grid_nm)[:10] if cut else np.array(runtime.grid_nm)
    grid[pixel] += shift_nm
    if special is not None:
        grid[pixel] = special
    assert runtime._on_model_grid(grid) == same_grid(grid, runtime.grid_nm)


_RUNTIMES: dict = {}


def _toy_runtime(toy_trained) -> LibsRuntime:
    path = toy_trained.model_path
    if path not in _RUNTIMES:
        _RUNTIMES[path] = LibsRuntime.load(path)
    return _RUNTIMES[path]
