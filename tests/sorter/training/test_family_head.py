"""The family head: features against hand-computed line areas, ONNX against numpy, Mahalanobis against
SciPy, the bars, and the runtime's use of it (sorter/training/family_head.py, sorter/serving/family_head.py)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from scipy.spatial.distance import mahalanobis

from sorter.serving.family_head import FamilyHeadCard, with_family_head
from sorter.serving.reject import Decision
from sorter.training.family_head import (
    FAMILY_OUTPUTS,
    FamilyFeatures,
    attach_family_head,
    family_line_names,
    family_thresholds,
    fit_family_head,
    jitter_line_strengths,
    randomised_batch,
    strip_family_head,
)

GRADES = ["1050A", "3003", "5182", "A380"]


@pytest.fixture(scope="module")
def grid():
    return np.linspace(240.0, 420.0, 1500)


@pytest.fixture(scope="module")
def fitted(grid):
    X, y = randomised_batch(grid, 24, 3, seed=5, grades=GRADES)
    return X, y, fit_family_head(X, y, grid, names=family_line_names(), copies=1)


def _gauss(grid, centre, area, fwhm=0.1):
    s = fwhm / 2.3548
    return area * np.exp(-0.5 * ((grid - centre) / s) ** 2) / (s * np.sqrt(2 * np.pi))


def test_every_window_named_in_the_data_file_exists_and_reads_a_family_element():
    names = family_line_names()
    assert len(names) == len(set(names)) >= 8
    assert {n.split("_")[0] for n in names} >= {"Mg", "Mn", "Si", "Cu", "Zn"}


def test_a_feature_is_the_asinh_of_the_line_area_over_its_al_reference_on_a_sloped_continuum():
    grid = np.linspace(240.0, 420.0, 6001)    # 0.03 nm pixels: the lines are sampled finely enough to sum
    # Mg I 383.2 triplet against Al I 266.04 (nearest neutral reference), on a sloped continuum that the
    # local baselines must remove; areas by hand: 3 x 40 against 500 counts nm
    cont = 1000.0 + 2.0 * (grid - 240.0)
    x = cont + _gauss(grid, 266.039, 500.0) + sum(_gauss(grid, c, 40.0) for c in (382.935, 383.231, 383.829))
    f = FamilyFeatures(grid, names=["Mg_I_383.2"]).fit()
    got = f.transform(x[None])[0]
    names = list(f.get_feature_names_out())
    j = names.index("Mg_I_383.2/Al_I_266.04")
    floor = f.lines_.floor
    assert got[j] == pytest.approx(np.arcsinh(120.0 / 500.0 / floor), rel=0.02)


def test_the_onnx_head_gives_what_numpy_gives_and_leaves_the_other_outputs_alone(fitted, grid):
    X, _, head = fitted
    graph = helper.make_graph([helper.make_node("ReduceSum", ["spectra", "axes"], ["probabilities"], keepdims=1)],
                              "toy", [helper.make_tensor_value_info("spectra", TensorProto.FLOAT, [None, grid.size])],
                              [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 1])],
                              [numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")])
    base = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    with_head = attach_family_head(base, head)
    sess = ort.InferenceSession(with_head, providers=["CPUExecutionProvider"])
    x32 = X[:40].astype(np.float32)
    out = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"spectra": x32}), strict=True))
    assert set(out) == {"probabilities", *FAMILY_OUTPUTS}
    P, dist = head.predict(x32.astype(np.float64))
    np.testing.assert_allclose(out["family_probabilities"], P, atol=1e-4)
    np.testing.assert_allclose(out["family_distance"][:, 0], dist, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out["probabilities"][:, 0], x32.sum(axis=1), rtol=1e-5)
    assert strip_family_head(with_head) == base
    with pytest.raises(ValueError, match="already has an output"):
        attach_family_head(with_head, head)


def test_the_distance_is_scipys_mahalanobis_under_the_pooled_covariance(fitted):
    X, _, head = fitted
    z = (head.features(X[:5]) - head.mean) / head.scale
    VI = head.whiten @ head.whiten.T          # the inverse covariance
    _, dist = head.predict(X[:5])
    for i in range(5):
        nearest = min(mahalanobis(z[i], c, VI) for c in head.centres)
        assert dist[i] == pytest.approx(nearest / np.sqrt(z.shape[1]), rel=1e-9)


def test_the_head_places_the_families_of_the_spectra_it_was_fitted_on(fitted):
    from sorter.serving.families import family_of

    X, y, head = fitted
    P, _ = head.predict(X)
    pred = np.array(head.families)[P.argmax(axis=1)]
    assert np.mean(pred == np.array([family_of(g) for g in y])) >= 0.9


def test_the_bars_keep_wrong_families_within_the_share_asked(fitted):
    from sorter.serving.families import family_of

    X, y, head = fitted
    for max_wrong in (0.0, 0.02, 0.1):
        t = family_thresholds(head, X, y, max_wrong=max_wrong)
        P, dist = head.predict(X)
        pred = np.array(head.families)[P.argmax(axis=1)]
        acc = (P.max(axis=1) >= t["min_probability"]) & (dist <= t["max_distance"])
        wrong = np.mean(acc & (pred != np.array([family_of(g) for g in y])))
        assert wrong <= max_wrong + 1e-12
        assert wrong == pytest.approx(t["validation"]["wrong_family_accepted"])


def test_jitter_scales_each_line_ratio_by_one_factor_per_group():
    rng = np.random.default_rng(0)
    F = np.arcsinh(np.full((40, 3), 50.0))
    J = jitter_line_strengths(F, 0.3, rng, group=20)
    scale = np.sinh(J) / 50.0
    np.testing.assert_allclose(scale[:20], np.broadcast_to(scale[0], (20, 3)))
    assert not np.allclose(scale[0], scale[20])


CLASSES = ["1050A", "3003", "5182", "5754", "copper"]
FAMILIES = {"1050A": "1xxx", "3003": "3xxx", "5182": "5xxx", "5754": "5xxx", "copper": "non-Al"}
HEAD = FamilyHeadCard(("1xxx", "3xxx", "5xxx", "non-Al"), min_probability=0.8, max_distance=3.0)


@pytest.mark.parametrize(("fam_p", "dist", "grade", "family", "decision", "reason"), [
    ([0.02, 0.02, 0.95, 0.01], 1.0, "5754", "5xxx", "accept", ""),                # agree
    ([0.02, 0.02, 0.70, 0.26], 1.0, "5754", "5xxx", "unknown", "family uncertain"),
    ([0.02, 0.02, 0.95, 0.01], 4.0, "5754", "5xxx", "unknown", "out of distribution"),
    ([0.95, 0.02, 0.02, 0.01], 1.0, "1050A", "1xxx", "unknown", "disagree"),      # best grade inside 1xxx
])
def test_the_runtime_serves_the_heads_family_and_abstains_when_unsure(fam_p, dist, grade, family, decision, reason):
    P = np.array([[0.05, 0.05, 0.3, 0.55, 0.05]])
    d = [Decision("5754", "5xxx", 0.55, "accept", "")]
    out = with_family_head(d, P, np.array([fam_p]), np.array([[dist]]), CLASSES, FAMILIES, HEAD)[0]
    assert (out.grade, out.family, out.decision) == (grade, family, decision)
    assert reason in out.reason


def test_a_piece_the_grade_classifier_sent_round_keeps_its_reason():
    P = np.array([[0.05, 0.05, 0.3, 0.55, 0.05]])
    d = [Decision("5754", "5xxx", 0.55, "unknown", "too noisy")]
    out = with_family_head(d, P, np.array([[0.9, 0.05, 0.04, 0.01]]), np.array([[0.5]]), CLASSES, FAMILIES, HEAD)[0]
    assert (out.grade, out.family, out.decision, out.reason) == ("1050A", "1xxx", "unknown", "too noisy")


@pytest.mark.parametrize("model", ["broadband", "highres"])
def test_a_bundled_model_lets_its_head_decide_the_family_only_on_another_spectrometer(model):
    from pathlib import Path

    from sorter.io import read_spectrum
    from sorter.serving.reject import decide
    from sorter.serving.runtime import LibsRuntime

    root = Path(__file__).resolve().parents[3]
    rt = LibsRuntime.load(root / "models" / f"{model}.onnx")
    assert rt.family_head is not None
    files = sorted((root / "sample_spectra").glob(f"*_{model}_*.csv"))[:12]
    x = np.stack([read_spectrum(f).intensity for f in files])
    out = rt.run(x)
    own = rt.classify_array(rt.grid_nm, x, instrument=model)
    grade_head = decide(out["probabilities"].astype(float), out["quality"].astype(float), rt.classes,
                        rt.card.families, rt.card.thresholds, out["class_distance"].astype(float))
    assert [r.family for r in own] == [d.family for d in grade_head]
    other = rt.classify_array(rt.grid_nm, x, instrument="peer-c")
    head_families = np.array(rt.card.family_head["families"])[out["family_probabilities"].argmax(axis=1)]
    assert [r.family for r in other] == list(head_families)
    assert all(r.grade and rt.card.families[r.grade] == r.family for r in other)
