"""The sorting entry point: model choice, batching, explicit models, threads and the bounded cache."""

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from blending.errors import InputError, NotFoundError
from sorter.serving import Sorter
from sorter.serving.registry import MODELS_ENV, models_dir
from sorter.serving.runtime import LibsRuntime
from sorter.spectrum import Metadata, Spectrum
from tests.support.libs_fixtures import GRID


@pytest.fixture(scope="module")
def toy_sorter(toy_trained):
    return Sorter([toy_trained.model_path])


def _key(r):
    return (r.grade, r.family, r.decision, r.reason, r.probabilities, r.composition_wt_pct)


def test_the_sorter_gives_the_runtimes_answers(toy_sorter, toy_trained, toy_data):
    _, (X, *_), = toy_data
    direct = LibsRuntime.load(toy_trained.model_path).classify_array(GRID, X)
    assert [_key(r) for r in toy_sorter.classify_array(GRID, X)] == [_key(r) for r in direct]
    one = toy_sorter.classify(Spectrum(GRID, X[0]))
    assert _key(one) == _key(direct[0])


def test_a_mixed_list_is_batched_per_grid_and_instrument_in_order(toy_sorter, toy_data):
    _, (X, *_), = toy_data
    fine = np.linspace(GRID[0] - 2, GRID[-1] + 2, 2 * GRID.size)
    spectra = [Spectrum(GRID, X[0]), Spectrum(fine, np.interp(fine, GRID, X[1])),
               Spectrum(GRID, X[2], Metadata(instrument="plant-b")), Spectrum(GRID, X[3])]
    many = toy_sorter.classify_many(spectra)
    assert [_key(r) for r in many] == [_key(toy_sorter.classify(s)) for s in spectra]
    assert many[2].composition_note and not many[0].composition_note


def test_threads_give_exactly_the_sequential_results(toy_trained, toy_data):
    _, (X, *_), = toy_data
    grids = [np.linspace(GRID[0] - k, GRID[-1] + k, GRID.size + 7 * k) for k in range(6)]
    spectra = [Spectrum(g, np.interp(g, GRID, X[i % len(X)])) for i, g in enumerate(grids * 4)]
    sequential = [_key(r) for r in Sorter([toy_trained.model_path]).classify_many(spectra)]
    shared = Sorter([toy_trained.model_path])        # loaded lazily, by whichever thread comes first
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda s: _key(shared.classify(s)), spectra * 3))
    assert results == sequential * 3
    assert len({id(shared.runtime("toy"))}) == 1


def test_the_resampling_cache_stays_bounded(toy_trained, toy_data):
    _, (X, *_), = toy_data
    sorter = Sorter([toy_trained.model_path], resample_cache_size=4)
    for k in range(20):
        grid = np.linspace(GRID[0] - 1 - 0.1 * k, GRID[-1] + 1, GRID.size + k)
        sorter.classify(Spectrum(grid, np.interp(grid, GRID, X[0])))
    runtime = sorter.runtime("toy")
    assert runtime.cached_grids() == 4
    again = np.linspace(GRID[0] - 1 - 0.1 * 19, GRID[-1] + 1, GRID.size + 19)   # the most recent stays
    assert again.tobytes() in runtime._resample_cache


def test_an_unknown_model_name_lists_the_models(toy_sorter):
    with pytest.raises(NotFoundError, match=r"^no model 'nope' \(models in the given files: toy\)") as exc:
        toy_sorter.classify(Spectrum(GRID, np.ones(GRID.size)), model="nope")
    assert exc.value.field == "model" and isinstance(exc.value, KeyError)


def test_an_unknown_bundled_model_lists_the_bundled_ones():
    with pytest.raises(NotFoundError, match="no model 'nope' \\(bundled models: broadband, highres\\)"):
        Sorter().runtime("nope")


def test_an_explicit_model_path_and_name_are_the_same_runtime(toy_sorter, toy_trained):
    assert toy_sorter.runtime(toy_trained.model_path) is toy_sorter.runtime("toy")
    assert toy_sorter.runtime(str(toy_trained.model_path)) is toy_sorter.runtime("toy")


def test_a_folder_of_models(toy_trained):
    sorter = Sorter(toy_trained.model_path.parent)
    assert "toy" in sorter.model_names
    assert sorter.model_for(GRID, "toy-instrument") == "toy"


def test_an_intensity_that_does_not_match_the_grid_is_refused(toy_sorter):
    with pytest.raises(InputError, match=r"intensity: expected shape \(n, 10\)"):
        toy_sorter.classify_array(GRID[:10], np.ones((2, 11)), model="toy")


def test_the_bundled_models_are_found_and_chosen_per_instrument():
    sorter = Sorter()
    assert sorter.model_names == ["broadband", "highres"]
    for name, (_, card) in sorter.cards.items():
        assert sorter.model_for(np.asarray(card.wavelength_grid_nm), card.instrument) == name


def test_models_dir_honours_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(MODELS_ENV, str(tmp_path))
    assert models_dir() == tmp_path
    monkeypatch.delenv(MODELS_ENV)
    assert (models_dir() / "broadband.card.json").exists()


def test_sorting_imports_neither_scikit_learn_nor_scipy(toy_trained):
    code = f"""
import sys, json, numpy as np
from sorter.serving import Sorter
from sorter.spectrum import Spectrum
sorter = Sorter([{str(toy_trained.model_path)!r}])
wl = np.linspace(245.0, 415.0, 1800)
r = sorter.classify(Spectrum(wl, np.full(wl.size, 300.0)))
print(json.dumps({{"heavy": sorted({{m.split('.')[0] for m in sys.modules}} & {{"sklearn", "skl2onnx", "scipy"}}),
                   "decision": r.decision}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"heavy": [], "decision": "unknown"}


def test_a_model_name_is_looked_up_once_and_stays_the_same_runtime(toy_trained, monkeypatch):
    """After its first use a name is answered without resolving the file again, and by the same runtime."""
    sorter = Sorter([toy_trained.model_path])
    first = sorter.runtime("toy")

    def no_more_lookups(model):
        raise AssertionError(f"looked up {model!r} again")

    monkeypatch.setattr(sorter, "_model_path", no_more_lookups)
    assert sorter.runtime("toy") is first
    monkeypatch.undo()
    assert sorter.runtime(toy_trained.model_path) is first
    with pytest.raises(NotFoundError):
        sorter.runtime("nope")
