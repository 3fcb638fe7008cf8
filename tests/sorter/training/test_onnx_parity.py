"""ONNX (onnxruntime, float32) against scikit-learn (float64) on held-out spectra and near decision thresholds."""

import numpy as np
import onnxruntime as ort
import pytest
from numpy.testing import assert_allclose
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.pipeline import make_pipeline

from sorter.preprocess.features import LineWindowFeatures, NoiseLevel
from sorter.preprocess.normalise import TotalEmissionNormaliser
from sorter.preprocess.resample import Resampler
from sorter.training.onnx_export import export_onnx, register_converters
from tests.support.libs_fixtures import GRID


def run(model_bytes, X):
    s = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    return dict(zip(names, s.run(None, {s.get_inputs()[0].name: X.astype(np.float32)}), strict=True))


@pytest.fixture(scope="module")
def exported(toy_model):
    return export_onnx(toy_model, GRID.size)


def near_threshold_mixtures(model, X, y):
    """Mixtures of two grades' spectra with the mixing weight bisected until their probabilities tie."""
    out = []
    grades = sorted(set(y))
    for a, b in zip(grades, grades[1:], strict=False):
        xa, xb = X[y == a][0], X[y == b][0]
        ia, ib = list(model.classes_).index(a), list(model.classes_).index(b)
        lo, hi = 0.0, 1.0
        for _ in range(40):
            w = 0.5 * (lo + hi)
            p = model.predict_proba(((1 - w) * xa + w * xb)[None])[0]
            if p[ia] > p[ib]:
                lo = w
            else:
                hi = w
        for dw in (-1e-3, 0.0, 1e-3):
            out.append(((1 - w - dw) * xa + (w + dw) * xb, ia, ib))
    return np.array([o[0] for o in out]), np.array([o[1:] for o in out])


def test_all_outputs_match_on_held_out_spectra(toy_model, toy_data, exported):
    _, (X, y, _, _) = toy_data
    sk = toy_model.outputs(X)
    ox = run(exported, X)
    assert_allclose(ox["probabilities"], sk["probabilities"], atol=2e-5)
    assert_allclose(ox["composition_wt_pct"], sk["composition_wt_pct"], atol=2e-3, rtol=1e-4)
    assert_allclose(ox["interval_halfwidth_wt_pct"], sk["interval_halfwidth_wt_pct"], atol=2e-3, rtol=1e-4)
    assert_allclose(ox["quality"], sk["quality"], rtol=2e-4, atol=1e-4)
    assert_allclose(ox["class_distance"], sk["class_distance"], rtol=2e-4, atol=1e-4)
    assert np.array_equal(np.argmax(ox["probabilities"], axis=1), np.argmax(sk["probabilities"], axis=1))


def test_probabilities_match_where_two_grades_tie(toy_model, toy_data, exported):
    _, (X, y, _, _) = toy_data
    mixed, pairs = near_threshold_mixtures(toy_model, X, y)
    sk = toy_model.outputs(mixed)["probabilities"]
    ox = run(exported, mixed)["probabilities"]
    assert_allclose(ox, sk, atol=2e-5)
    rows = np.arange(len(mixed))
    gap = np.abs(sk[rows, pairs[:, 0]] - sk[rows, pairs[:, 1]])
    assert np.sum(gap < 1e-3) >= 4  # several mixtures really sit where two grades tie
    top2 = np.sort(sk, axis=1)[:, -2:]
    decided = top2[:, 1] - top2[:, 0] > 1e-4     # where float32 cannot flip the order, labels agree
    assert np.array_equal(np.argmax(ox, axis=1)[decided], np.argmax(sk, axis=1)[decided])
    # and the ONNX pair order agrees with scikit-learn's wherever the tie is broken by more than float32 noise
    clear = gap > 1e-4
    assert np.array_equal((ox[rows, pairs[:, 0]] > ox[rows, pairs[:, 1]])[clear],
                          (sk[rows, pairs[:, 0]] > sk[rows, pairs[:, 1]])[clear])


def test_transformer_pipelines_convert_with_skl2onnx(toy_data):
    (X, *_), _ = toy_data
    register_converters()
    target = np.linspace(250.0, 410.0, 900)
    for pipe in (make_pipeline(Resampler(source_nm=GRID, target_nm=target), LineWindowFeatures(target)),
                 make_pipeline(TotalEmissionNormaliser()), make_pipeline(NoiseLevel())):
        pipe.fit(X)
        onx = to_onnx(pipe, initial_types=[("x", FloatTensorType([None, X.shape[1]]))],
                      target_opset={"": 17, "ai.onnx.ml": 3})
        got = run(onx.SerializeToString(), X[:10])
        assert_allclose(next(iter(got.values())), pipe.transform(X[:10]), rtol=2e-4, atol=1e-4)


def test_widened_intervals_match_on_spectra_far_from_every_grade(toy_model, toy_data, exported):
    _, (X, y, _, _) = toy_data
    rng = np.random.default_rng(3)
    far = X[:20] * rng.uniform(0.5, 1.5, size=(20, X.shape[1]))  # pixel-wise distortion: off every grade
    sk = toy_model.outputs(far)
    inflation = toy_model.composition_.interval_inflation(sk["probabilities"], sk["class_distance"])
    assert np.sum(inflation > 1.5) >= 5  # the widening is really exercised
    ox = run(exported, far)
    assert_allclose(ox["interval_halfwidth_wt_pct"], sk["interval_halfwidth_wt_pct"], atol=2e-3, rtol=1e-4)
    assert_allclose(ox["composition_wt_pct"], sk["composition_wt_pct"], atol=2e-3, rtol=1e-4)


def test_exported_graph_has_no_unused_initializers_and_loads_without_warnings(exported, capfd):
    import onnx

    onx = onnx.load_from_string(exported)
    read = {name for node in onx.graph.node for name in node.input} | {o.name for o in onx.graph.output}
    assert [i.name for i in onx.graph.initializer if i.name not in read] == []
    capfd.readouterr()
    ort.InferenceSession(exported, providers=["CPUExecutionProvider"])
    assert "Removing initializer" not in capfd.readouterr().err


def test_dropping_unused_initializers_keeps_the_outputs():
    import onnx
    from onnx import TensorProto, helper

    from sorter.training.onnx_export import drop_unused_initializers

    w = helper.make_tensor("w", TensorProto.FLOAT, [2], [2.0, 3.0])
    dead = helper.make_tensor("dead", TensorProto.FLOAT, [1], [7.0])
    graph = helper.make_graph([helper.make_node("Mul", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])], [w, dead])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    x = np.array([[1.0, -2.0]], dtype=np.float32)
    before = run(model.SerializeToString(), x)["y"]
    drop_unused_initializers(model)
    onnx.checker.check_model(model)
    assert [i.name for i in model.graph.initializer] == ["w"]
    assert_allclose(run(model.SerializeToString(), x)["y"], before)
    assert_allclose(before, x * np.array([2.0, 3.0]))


def test_composition_with_plasma_state_experts_matches(toy_model, toy_data):
    """The experts' gates (softmax over Gaussian distances) and blend in ONNX equal GradeWiseComposition's."""
    import copy

    from sorter.training.composition import GradeWiseComposition

    (X, y, Y, _), (Xt, *_rest) = toy_data
    model = copy.deepcopy(toy_model)
    Z = model.scaler_.transform(model.features(X))
    model.composition_ = GradeWiseComposition(n_experts=3, min_expert_spectra=20).fit(Z, y, Y, list(model.classes_))
    model.composition_.fit_distance_scale(model.ood_.distances(Z), y)
    assert len(model.composition_.expert_pairs_) > 0
    sk = model.outputs(Xt)
    ox = run(export_onnx(model, GRID.size), Xt)
    single = toy_model.outputs(Xt)["composition_wt_pct"]
    assert np.abs(sk["composition_wt_pct"] - single).max() > 1e-3   # the experts change the estimate
    for key in ("composition_wt_pct", "interval_halfwidth_wt_pct"):
        assert_allclose(ox[key], sk[key], rtol=2e-4, atol=2e-4)


def test_composition_with_saha_boltzmann_terms_matches(toy_model, toy_data):
    """The state regressor, the polynomial partition functions and the Saha logs in ONNX equal LibsModel's."""
    import warnings

    from sorter.training.model import LibsModel

    (X, y, Y, el), (Xt, *_rest) = toy_data
    rng = np.random.default_rng(4)
    # any labelled states exercise the graph; these span cool-thin to hot-dense corners
    state = np.column_stack([rng.uniform(0.7, 1.25, len(y)), rng.uniform(np.log(1e16), np.log(1e18), len(y))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LibsModel(GRID, hidden_layer_sizes=(32,), max_iter=150, plasma_terms=True,
                          state_hidden_layer_sizes=(16,)).fit(X, y, Y, el, plasma_state=state)
    Z = model.scaler_.transform(model.features(Xt))
    assert model.composition_inputs(Z).shape[1] == Z.shape[1] + 2 + 2 * len(model.terms_.elements)
    sk = model.outputs(Xt)
    assert np.abs(sk["composition_wt_pct"] - toy_model.outputs(Xt)["composition_wt_pct"]).max() > 1e-3
    ox = run(export_onnx(model, GRID.size), Xt)
    for key in ("composition_wt_pct", "interval_halfwidth_wt_pct"):
        assert_allclose(ox[key], sk[key], rtol=2e-4, atol=2e-3)
    assert_allclose(ox["probabilities"], sk["probabilities"], atol=2e-5)


def test_offset_corrected_areas_match(toy_data):
    """The offset estimate (two Newton steps, soft denominators, clip) and the moved windows in ONNX
    equal LineWindowFeatures', on spectra offset by up to the correction's limit and beyond it."""
    from tests.support.libs_fixtures import toy_batch

    (X, *_), _ = toy_data
    register_converters()
    f = LineWindowFeatures(GRID, max_shift_nm=0.06)
    pipe = make_pipeline(f).fit(X)
    onx = to_onnx(pipe, initial_types=[("x", FloatTensorType([None, X.shape[1]]))],
                  target_opset={"": 17, "ai.onnx.ml": 3}).SerializeToString()
    for offset in (-0.09, -0.04, 0.0, 0.03, 0.06):
        Xs, *_ = toy_batch(GRID, 3, seed=7, offset_nm=offset)
        s = f.shift_nm(Xs)
        assert np.all(np.abs(s) <= 0.06)
        if abs(offset) < 0.06:
            assert_allclose(s[:-3], offset, atol=0.015)      # aluminium grades (the last is copper)
        got, want = next(iter(run(onx, Xs).values())), pipe.transform(Xs)
        assert_allclose(got[:-3], want[:-3], rtol=2e-4, atol=2e-4)
        # copper: no aluminium line, so the offset is noise from large cancelling sums, and float32 shows
        assert_allclose(got[-3:], want[-3:], rtol=1e-2, atol=1e-2)
    # the moved windows read further out: the footprints, from the graph as from the transformer, grow
    from sorter.training.onnx_export import window_footprints_from_graph

    moved = f.footprints_nm()
    assert_allclose(window_footprints_from_graph(onx, GRID, len(f.windows_)), moved, rtol=0, atol=0)
    still = LineWindowFeatures(GRID).fit(X).footprints_nm()
    assert np.all(moved[:, 0] <= still[:, 0]) and np.all(moved[:, 1] >= still[:, 1])
    assert np.any(moved[:, 1] - still[:, 1] > 0.03)


def test_composition_matches_where_a_piece_is_split_between_aluminium_and_a_contaminant(toy_model, toy_data,
                                                                                          exported):
    """Mixtures of an aluminium grade's spectrum and copper's, on both sides of P(aluminium) = 0.5."""
    _, (X, y, _, _) = toy_data
    al = toy_model.composition_.aluminium_
    xa, xc = X[y == "6061"][0], X[y == "copper"][0]
    lo, hi = 0.0, 1.0
    for _ in range(40):
        w = 0.5 * (lo + hi)
        p = toy_model.predict_proba(((1 - w) * xa + w * xc)[None])[0]
        lo, hi = (w, hi) if p[al].sum() >= 0.5 else (lo, w)
    mixed = np.array([(1 - w - dw) * xa + (w + dw) * xc for dw in np.linspace(-0.02, 0.02, 41)])
    sk = toy_model.outputs(mixed)
    p_al = sk["probabilities"][:, al].sum(axis=1)
    assert np.sum((p_al > 0.05) & (p_al < 0.5)) >= 3 and np.sum((p_al >= 0.5) & (p_al < 0.95)) >= 3
    ox = run(exported, mixed)
    clear = np.abs(p_al - 0.5) > 1e-4          # float32 cannot flip the kind there
    assert_allclose(ox["composition_wt_pct"][clear], sk["composition_wt_pct"][clear], atol=2e-3, rtol=1e-4)
    assert_allclose(ox["interval_halfwidth_wt_pct"][clear], sk["interval_halfwidth_wt_pct"][clear], atol=2e-3,
                    rtol=1e-4)
    cu = list(toy_model.elements_).index("Cu")
    assert np.all(sk["composition_wt_pct"][p_al >= 0.5, cu] < 5.0)    # an aluminium piece never reads copper's Cu
    assert np.all(sk["composition_wt_pct"][p_al < 0.5, cu] > 50.0)
