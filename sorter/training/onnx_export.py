"""Export the fitted scikit-learn pipeline to ONNX with skl2onnx (float32, zipmap=False).

Each preprocessing transformer has a registered skl2onnx converter, so any
``Pipeline`` built from them converts with ``skl2onnx.to_onnx``. :class:`LibsModel`
converts to one graph with four outputs (see :data:`sorter.training.model.OUTPUTS`):

* ``probabilities`` (n, C): the MLP's softmax, via skl2onnx's own MLP converter;
* ``composition_wt_pct`` and ``interval_halfwidth_wt_pct`` (n, E);
* ``quality`` (n, 4): strongest line's signal-to-noise, Al share, peak counts, OOD distance (to the nearest class);
* ``class_distance`` (n, C): Mahalanobis distance to each class; the reject option uses the
  distance to the chosen grade, so a spectrum near a contaminant's mean but put in an
  aluminium grade is caught.

The line areas are one ``Gather`` of the pixels the windows use and one ``MatMul``:
the local baselines are folded into the weights, so serving costs a small dense product.
"""

from __future__ import annotations

import numpy as np
from skl2onnx import get_model_alias, to_onnx, update_registered_converter
from skl2onnx.algebra.onnx_operator import OnnxSubEstimator
from skl2onnx.algebra.onnx_ops import (
    OnnxAbs,
    OnnxAdd,
    OnnxAsinh,
    OnnxCast,
    OnnxClip,
    OnnxConcat,
    OnnxDiv,
    OnnxExp,
    OnnxGather,
    OnnxIdentity,
    OnnxLess,
    OnnxLog,
    OnnxMatMul,
    OnnxMax,
    OnnxMin,
    OnnxMul,
    OnnxNeg,
    OnnxReduceMaxApi18,
    OnnxReshape,
    OnnxSoftmax,
    OnnxSqrt,
    OnnxSub,
    OnnxTopK,
)
from skl2onnx.common.data_types import FloatTensorType

from sorter.physics.constants import K_B_EV, SAHA_CONSTANT
from sorter.preprocess.features import LineWindowFeatures, NoiseLevel
from sorter.preprocess.normalise import TotalEmissionNormaliser
from sorter.preprocess.resample import Resampler
from sorter.serving.card import SATURATED_PIXELS
from sorter.training.model import OUTPUTS, LibsModel
from sorter.training.plasma_terms import LN_CM3_TO_M3, LN_NE_RANGE, THETA_RANGE

TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
F32 = np.float32


def _c(values) -> np.ndarray:
    return np.asarray(values, dtype=F32)


def _sum_columns(x, n: int, opv):
    """Row sums as a MatMul with a ones column (no ReduceSum opset juggling)."""
    return OnnxMatMul(x, np.ones((n, 1), dtype=F32), op_version=opv)


# ---- graph builders shared by the converters -------------------------------------------------

def line_areas_graph(lines: LineWindowFeatures, X, opv):
    """(areas (n, k), total (n, 1)) nodes for spectra X on the model grid.

    With the offset correction (``lines.shift_weights_``) the same gathered pixels go through one
    MatMul with the area weights, the areas' linear and quadratic terms in the offset and the
    offset's three terms side by side; then the offset (two Newton steps, soft denominators,
    clipped) and ``areas = A0 + s A1 + s^2 A2``, as in :meth:`LineWindowFeatures.areas`.
    """
    px = OnnxGather(X, lines.pixels_.astype(np.int64), axis=1, op_version=opv)
    k = lines.weights_.shape[1]
    if lines.shift_weights_ is None:
        areas = OnnxMatMul(px, _c(lines.weights_), op_version=opv)
        return areas, _sum_columns(areas, k, opv)
    allw = OnnxMatMul(px, _c(np.hstack([lines.weights_, lines.shift_weights_])), op_version=opv)

    def cols(idx):
        return OnnxGather(allw, np.asarray(idx, dtype=np.int64), axis=1, op_version=opv)

    def mul(a, b):
        return OnnxMul(a, b, op_version=opv)

    def add(a, b):
        return OnnxAdd(a, b, op_version=opv)

    def soft_ratio(num, den, eps2):
        """num * den / (den^2 + eps2)."""
        return OnnxDiv(mul(num, den), add(mul(den, den), eps2), op_version=opv)

    A0, A1, A2 = cols(np.arange(k)), cols(np.arange(k, 2 * k)), cols(np.arange(2 * k, 3 * k))
    u0, u1, u2 = cols([3 * k]), cols([3 * k + 1]), cols([3 * k + 2])
    total0 = _sum_columns(A0, k, opv)
    eps2 = add(mul(mul(total0, total0), _c([lines.soft ** 2])), _c([1e-24]))
    s1 = OnnxNeg(soft_ratio(u0, u1, eps2), op_version=opv)
    slope = add(u1, mul(mul(u2, s1), _c([2.0])))
    resid = add(add(u0, mul(u1, s1)), mul(u2, mul(s1, s1)))
    s2 = OnnxSub(s1, soft_ratio(resid, slope, eps2), op_version=opv)
    shift = OnnxClip(s2, _c(-lines.max_shift_nm), _c(lines.max_shift_nm), op_version=opv)
    areas = add(A0, add(mul(shift, A1), mul(mul(shift, shift), A2)))
    return areas, _sum_columns(areas, k, opv)


def line_features_graph(lines: LineWindowFeatures, areas, total, opv):
    """The ratio features of :meth:`LineWindowFeatures.features_from_areas` as ONNX nodes."""
    floor = F32(lines.floor)
    d_total = OnnxSqrt(OnnxAdd(OnnxMul(total, total, op_version=opv), _c([1e-24]), op_version=opv), op_version=opv)
    soft_total2 = OnnxMul(OnnxMul(total, total, op_version=opv), _c([lines.soft ** 2]), op_version=opv)

    def cols(idx):
        return OnnxGather(areas, np.asarray(idx, dtype=np.int64), axis=1, op_version=opv)

    def soft_denominator(ref):
        return OnnxSqrt(OnnxAdd(OnnxMul(ref, ref, op_version=opv), soft_total2, op_version=opv), op_version=opv)

    def asinh_ratio(num, den, scale):
        return OnnxAsinh(OnnxDiv(OnnxDiv(num, den, op_version=opv), _c([scale]), op_version=opv), op_version=opv)

    an = cols(lines.analytes_)
    parts = [asinh_ratio(an, soft_denominator(cols(lines.reference_of_[lines.analytes_])), floor),
             asinh_ratio(an, d_total, floor),
             asinh_ratio(cols(lines.references_), d_total, floor)]
    if lines.thermometer_ is not None:
        hot, cold = lines.thermometer_
        parts.append(asinh_ratio(cols([hot]), soft_denominator(cols([cold])), floor))
    return OnnxConcat(*parts, axis=1, op_version=opv)


def noise_graph(noise: NoiseLevel, X, opv):
    c = noise.centres_.astype(np.int64)
    left = OnnxGather(X, c - 1, axis=1, op_version=opv)
    mid = OnnxGather(X, c, axis=1, op_version=opv)
    right = OnnxGather(X, c + 1, axis=1, op_version=opv)
    d2 = OnnxSub(OnnxAdd(left, right, op_version=opv), OnnxMul(mid, _c([2.0]), op_version=opv), op_version=opv)
    scale = 1.0 / (c.size * np.sqrt(6.0) * np.sqrt(2.0 / np.pi))
    return OnnxMul(_sum_columns(OnnxAbs(d2, op_version=opv), c.size, opv), _c([scale]), op_version=opv)


# ---- converters of the single transformers ---------------------------------------------------

def plasma_terms_graph(op: LibsModel, Z, opv):
    """The scaled Saha-Boltzmann terms at the estimated plasma state (LibsModel.composition_inputs' tail).

    The state regressor through skl2onnx's MLP converter, then SahaBoltzmannTerms.__call__: ln U as a
    polynomial in the scaled 1e4 K / T_e (powers and one MatMul), the Saha logs, ln f_I = -ln(1 + S_1 +
    S_1 S_2), and the columns interleaved per element by one Gather.
    """
    terms = op.terms_
    E = len(terms.elements)
    # skl2onnx's regressor converter flattens multi-output predictions to one column
    raw = OnnxReshape(OnnxSubEstimator(op.state_, Z, op_version=opv), np.array([-1, 2], dtype=np.int64),
                      op_version=opv)
    state = OnnxAdd(OnnxMul(raw, _c(op.state_scaler_.scale_[None]), op_version=opv),
                    _c(op.state_scaler_.mean_[None]), op_version=opv)
    theta = OnnxClip(OnnxGather(state, np.array([0], dtype=np.int64), axis=1, op_version=opv),
                     _c(THETA_RANGE[0]), _c(THETA_RANGE[1]), op_version=opv)
    ln_ne = OnnxClip(OnnxGather(state, np.array([1], dtype=np.int64), axis=1, op_version=opv),
                     _c(LN_NE_RANGE[0]), _c(LN_NE_RANGE[1]), op_version=opv)
    lo, hi = THETA_RANGE
    x = OnnxDiv(OnnxSub(theta, _c([0.5 * (lo + hi)]), op_version=opv), _c([0.5 * (hi - lo)]), op_version=opv)
    powers = [x]
    for _ in range(terms.log_u_coef.shape[0] - 2):
        powers.append(OnnxMul(powers[-1], x, op_version=opv))
    log_u = OnnxAdd(OnnxMatMul(OnnxConcat(*powers, axis=1, op_version=opv), _c(terms.log_u_coef[1:]),
                               op_version=opv), _c(terms.log_u_coef[:1]), op_version=opv)

    def stage(z):
        return OnnxGather(log_u, np.arange(z * E, (z + 1) * E, dtype=np.int64), axis=1, op_version=opv)

    u1, u2, u3 = stage(0), stage(1), stage(2)
    base = OnnxSub(OnnxSub(_c([np.log(2.0 * SAHA_CONSTANT) + 1.5 * np.log(1e4) - LN_CM3_TO_M3]),
                           OnnxMul(OnnxLog(theta, op_version=opv), _c([1.5]), op_version=opv), op_version=opv),
                   ln_ne, op_version=opv)
    per_ev = OnnxMul(theta, _c([1.0 / (K_B_EV * 1e4)]), op_version=opv)

    def ln_saha(lower, upper, e_ion):
        return OnnxSub(OnnxAdd(base, OnnxSub(upper, lower, op_version=opv), op_version=opv),
                       OnnxMul(per_ev, _c(e_ion[None]), op_version=opv), op_version=opv)

    ln_s1 = ln_saha(u1, u2, terms.e_ion_eV[0])
    ln_s2 = ln_saha(u2, u3, terms.e_ion_eV[1])
    ln_f0 = OnnxNeg(OnnxLog(OnnxAdd(OnnxAdd(OnnxExp(ln_s1, op_version=opv),
                                            OnnxExp(OnnxAdd(ln_s1, ln_s2, op_version=opv), op_version=opv),
                                            op_version=opv), _c([1.0]), op_version=opv), op_version=opv),
                    op_version=opv)
    t_one = OnnxSub(ln_f0, u1, op_version=opv)
    t_two = OnnxSub(OnnxAdd(ln_s1, ln_f0, op_version=opv), u2, op_version=opv)
    interleave = np.stack([np.arange(E), E + np.arange(E)], axis=1).reshape(-1).astype(np.int64)
    full = OnnxConcat(theta, ln_ne, OnnxGather(OnnxConcat(t_one, t_two, axis=1, op_version=opv), interleave,
                                               axis=1, op_version=opv), axis=1, op_version=opv)
    return OnnxDiv(OnnxSub(full, _c(op.terms_scaler_.mean_[None]), op_version=opv),
                   _c(op.terms_scaler_.scale_[None]), op_version=opv)


def _int_missing_tracks() -> None:
    """skl2onnx 1.20 writes a tree leaf's ``nodes_missing_value_tracks_true`` as Python ``False``, which onnx
    1.19+ refuses in an ints attribute (``HistGradientBoostingClassifier`` then fails to convert): pass ints."""
    from skl2onnx.common import tree_ensemble

    add_node = tree_ensemble.add_node
    if getattr(add_node, "_aluloop_ints", False):
        return

    def with_ints(*args, nodes_missing_value_tracks_true=0, **kwargs):
        return add_node(*args, nodes_missing_value_tracks_true=int(nodes_missing_value_tracks_true), **kwargs)

    with_ints._aluloop_ints = True
    tree_ensemble.add_node = with_ints


def _shape_fixed(n_out_fn):
    def calc(operator):
        n = operator.inputs[0].get_first_dimension()
        operator.outputs[0].type = FloatTensorType([n, n_out_fn(operator.raw_operator)])
    return calc


def _convert_lines(scope, operator, container):
    op, opv = operator.raw_operator, container.target_opset
    areas, total = line_areas_graph(op, operator.inputs[0], opv)
    out = line_features_graph(op, areas, total, opv)
    OnnxIdentity(out, op_version=opv, output_names=operator.outputs[:1]).add_to(scope, container)


def _convert_noise(scope, operator, container):
    op, opv = operator.raw_operator, container.target_opset
    out = noise_graph(op, operator.inputs[0], opv)
    OnnxIdentity(out, op_version=opv, output_names=operator.outputs[:1]).add_to(scope, container)


def _convert_resampler(scope, operator, container):
    op, opv = operator.raw_operator, container.target_opset
    X = operator.inputs[0]
    lo = OnnxGather(X, op.index_.astype(np.int64), axis=1, op_version=opv)
    hi = OnnxGather(X, (op.index_ + 1).astype(np.int64), axis=1, op_version=opv)
    frac = _c(op.fraction_)[None, :]
    out = OnnxAdd(lo, OnnxMul(OnnxSub(hi, lo, op_version=opv), frac, op_version=opv), op_version=opv)
    OnnxIdentity(out, op_version=opv, output_names=operator.outputs[:1]).add_to(scope, container)


def _convert_total(scope, operator, container):
    op, opv = operator.raw_operator, container.target_opset
    X = operator.inputs[0]
    s = OnnxAdd(OnnxAbs(_sum_columns(X, op.n_features_in_, opv), op_version=opv), _c([op.floor]), op_version=opv)
    OnnxIdentity(OnnxDiv(X, s, op_version=opv), op_version=opv,
                 output_names=operator.outputs[:1]).add_to(scope, container)


# ---- the whole model -------------------------------------------------------------------------

def _libs_parser(scope, model, inputs, custom_parsers=None):
    this = scope.declare_local_operator(get_model_alias(type(model)), model)
    this.inputs = inputs
    for name in OUTPUTS:
        this.outputs.append(scope.declare_local_variable(name, FloatTensorType()))
    return this.outputs


def _libs_shape(operator):
    op = operator.raw_operator
    n = operator.inputs[0].get_first_dimension()
    E = len(op.elements_)
    for var, width in zip(operator.outputs, (len(op.classes_), E, E, 4, len(op.classes_)), strict=True):
        var.type = FloatTensorType([n, width])


def _convert_libs(scope, operator, container):
    op: LibsModel = operator.raw_operator
    opv = container.target_opset
    X = operator.inputs[0]
    lines = op.lines_
    areas, total = line_areas_graph(lines, X, opv)
    feats = line_features_graph(lines, areas, total, opv)
    Z = OnnxSubEstimator(op.scaler_, feats, op_version=opv)
    Zc = Z
    if getattr(op, "guide_", None) is not None:  # composition-guided inputs: [Z, Z W + b]
        guide = op.guide_
        Zc = OnnxConcat(Z, OnnxAdd(OnnxMatMul(Z, _c(guide.coef_), op_version=opv), _c(guide.intercept_[None]),
                                   op_version=opv), axis=1, op_version=opv)
    clf = OnnxSubEstimator(op.classifier_, Zc, op_version=opv, options={"zipmap": False})
    P = OnnxIdentity(clf[1], op_version=opv)
    C, k = len(op.classes_), lines.get_feature_names_out().size
    # quality
    sigma = noise_graph(op.noise_, X, opv)
    strongest = OnnxReduceMaxApi18(OnnxDiv(areas, _c(lines.area_noise_per_sigma_[None, :]), op_version=opv),
                                   axes=[1], keepdims=1, op_version=opv)
    snr = OnnxDiv(strongest, OnnxAdd(sigma, _c([1e-12]), op_version=opv), op_version=opv)
    al = OnnxDiv(_sum_columns(OnnxGather(areas, lines.references_.astype(np.int64), axis=1, op_version=opv),
                              lines.references_.size, opv),
                 OnnxSqrt(OnnxAdd(OnnxMul(total, total, op_version=opv), _c([1e-24]), op_version=opv),
                          op_version=opv), op_version=opv)
    k_top = min(SATURATED_PIXELS, lines.reference_pixels_.size)
    top = OnnxTopK(OnnxGather(X, lines.reference_pixels_, axis=1, op_version=opv),
                   np.array([k_top], dtype=np.int64), axis=1, op_version=opv)
    peak = OnnxGather(top[0], np.array([k_top - 1], dtype=np.int64), axis=1, op_version=opv)
    W = OnnxMatMul(Z, _c(op.ood_.whitening_), op_version=opv)
    M = op.ood_.means_white_
    d2 = OnnxAdd(OnnxSub(_sum_columns(OnnxMul(W, W, op_version=opv), k, opv),
                         OnnxMul(OnnxMatMul(W, _c(M.T), op_version=opv), _c([2.0]), op_version=opv), op_version=opv),
                 _c((M ** 2).sum(axis=1))[None, :], op_version=opv)
    d2_min = OnnxNeg(OnnxReduceMaxApi18(OnnxNeg(d2, op_version=opv), axes=[1], keepdims=1, op_version=opv),
                     op_version=opv)
    ood = OnnxSqrt(OnnxDiv(OnnxClip(d2_min, _c(0.0), op_version=opv), _c([float(k)]), op_version=opv),
                   op_version=opv)
    class_distance = OnnxSqrt(OnnxDiv(OnnxClip(d2, _c(0.0), op_version=opv), _c([float(k)]), op_version=opv),
                              op_version=opv)
    quality = OnnxConcat(snr, al, peak, ood, axis=1, op_version=opv)
    # composition: all grades' ridge predictions in one MatMul, then mixed by probability
    E = len(op.elements_)
    if op.composition_ is not None and E:
        comp_model = op.composition_
        Pk = _family_conditioned(P, comp_model, C, opv)   # the composition mixes the probable kind only
        Zc, kc = Z, k
        if getattr(op, "state_", None) is not None:
            Zc = OnnxConcat(Z, plasma_terms_graph(op, Z, opv), axis=1, op_version=opv)
            kc = k + op.terms_scaler_.mean_.size
        B = np.transpose(comp_model.coef_, (1, 0, 2)).reshape(kc, C * E)
        per = OnnxAdd(OnnxMatMul(Zc, _c(B), op_version=opv), _c(comp_model.intercept_.reshape(1, C * E)),
                      op_version=opv)
        if len(getattr(comp_model, "expert_pairs_", ())):
            per = _with_experts(per, Zc, comp_model, C, E, kc, opv)
        per3 = OnnxMin(OnnxMax(OnnxReshape(per, np.array([-1, C, E], dtype=np.int64), op_version=opv),
                               _c(comp_model.lower_)[None], op_version=opv),
                       _c(comp_model.upper_)[None], op_version=opv)
        inflation = None
        if hasattr(comp_model, "distance_scale_"):
            # far from the grade's training spectra: estimate shrunk to the grade mean, interval widened
            # (GradeWiseComposition.interval_inflation)
            reach = _sum_columns(OnnxMul(Pk, class_distance, op_version=opv), C, opv)
            scale = OnnxMatMul(Pk, _c(comp_model.distance_scale_[:, None]), op_version=opv)
            inflation = OnnxMax(OnnxDiv(reach, scale, op_version=opv), _c([1.0]), op_version=opv)   # (n, 1)
            mean = _c(comp_model.mean_)[None]
            r3 = OnnxReshape(inflation, np.array([-1, 1, 1], dtype=np.int64), op_version=opv)
            per3 = OnnxAdd(OnnxDiv(OnnxSub(per3, mean, op_version=opv), r3, op_version=opv), mean, op_version=opv)
        P3 = OnnxReshape(Pk, np.array([-1, 1, C], dtype=np.int64), op_version=opv)
        mixed = OnnxMatMul(P3, per3, op_version=opv)                       # (n, 1, E)
        spread = OnnxMatMul(P3, OnnxAbs(OnnxSub(per3, mixed, op_version=opv), op_version=opv), op_version=opv)
        comp = OnnxClip(OnnxReshape(mixed, np.array([-1, E], dtype=np.int64), op_version=opv),
                        _c(0.0), _c(100.0), op_version=opv)
        half = OnnxAdd(OnnxMatMul(Pk, _c(comp_model.halfwidth_), op_version=opv),
                       OnnxReshape(spread, np.array([-1, E], dtype=np.int64), op_version=opv), op_version=opv)
        if inflation is not None:
            half = OnnxMul(half, inflation, op_version=opv)
    else:
        empty = OnnxMatMul(P, np.zeros((C, 0), dtype=F32), op_version=opv)
        comp, half = empty, OnnxIdentity(empty, op_version=opv)
    for node, var in zip((P, comp, half, quality, class_distance), operator.outputs, strict=True):
        OnnxIdentity(node, op_version=opv, output_names=[var]).add_to(scope, container)


def _family_conditioned(P, comp, C: int, opv):
    """GradeWiseComposition.family_conditioned: P renormalised over the more probable kind of class."""
    al = getattr(comp, "aluminium_", None)
    if al is None or al.all() or not al.any():
        return P
    a = np.asarray(al, dtype=F32)
    p_al = OnnxMatMul(P, a[:, None], op_version=opv)                                          # (n, 1)
    other = OnnxCast(OnnxLess(p_al, _c([0.5]), op_version=opv), to=1, op_version=opv)         # 1.0: not aluminium
    keep = OnnxAdd(_c(a[None]), OnnxMul(other, _c((1.0 - 2.0 * a)[None]), op_version=opv), op_version=opv)
    kept = OnnxMul(P, keep, op_version=opv)
    return OnnxDiv(kept, _sum_columns(kept, C, opv), op_version=opv)


def _with_experts(per, Z, comp, C: int, E: int, k: int, opv):
    """Replace the (grade, element) pairs that have plasma-state experts by the experts' blend.

    GradeWiseComposition.expert_gates / expert_estimates: coordinate S = Z A_c + a_c per grade,
    Gaussian gates over the expert centres (a softmax of -d^2 / 2 w^2), each pair's experts in one MatMul.
    """
    pairs = comp.expert_pairs_
    n_p, n_b = len(pairs), comp.expert_coef_.shape[0]
    A = np.transpose(comp.state_map_, (1, 0, 2)).reshape(k, C * 2)
    S = OnnxReshape(OnnxAdd(OnnxMatMul(Z, _c(A), op_version=opv), _c(comp.state_offset_.reshape(1, C * 2)),
                            op_version=opv), np.array([-1, C, 1, 2], dtype=np.int64), op_version=opv)
    d = OnnxSub(S, _c(comp.centres_[None]), op_version=opv)                          # (n, C, B, 2)
    d2 = OnnxReshape(OnnxMatMul(OnnxMul(d, d, op_version=opv), _c(np.ones((2, 1))), op_version=opv),
                     np.array([-1, C, n_b], dtype=np.int64), op_version=opv)
    gates = OnnxSoftmax(OnnxMul(d2, _c([-0.5 / comp.expert_width ** 2]), op_version=opv), axis=2,
                        op_version=opv)                                                  # (n, C, B)
    gates_p = OnnxGather(gates, pairs[:, 0].astype(np.int64), axis=1, op_version=opv)    # (n, P, B)
    # columns pair-major (p, b): the product reshapes straight to (n, P, B), no transpose
    coef = np.transpose(comp.expert_coef_, (1, 2, 0)).reshape(k, n_p * n_b)
    local = OnnxReshape(OnnxAdd(OnnxMatMul(Z, _c(coef), op_version=opv),
                                _c(comp.expert_intercept_.T.reshape(1, n_p * n_b)), op_version=opv),
                        np.array([-1, n_p, n_b], dtype=np.int64), op_version=opv)
    mixed = OnnxMatMul(OnnxMul(gates_p, local, op_version=opv), _c(np.ones((n_b, 1))), op_version=opv)  # (n, P, 1)
    flat = pairs[:, 0] * E + pairs[:, 1]
    scatter = np.zeros((n_p, C * E))
    scatter[np.arange(n_p), flat] = 1.0
    keep = np.ones((1, C * E))
    keep[0, flat] = 0.0
    return OnnxAdd(OnnxMul(per, _c(keep), op_version=opv),
                   OnnxMatMul(OnnxReshape(mixed, np.array([-1, n_p], dtype=np.int64), op_version=opv),
                              _c(scatter), op_version=opv), op_version=opv)


_REGISTERED = False


def register_converters() -> None:
    """Teach skl2onnx the aluloop transformers and :class:`LibsModel` (idempotent)."""
    global _REGISTERED
    if _REGISTERED:
        return
    _int_missing_tracks()
    update_registered_converter(LineWindowFeatures, "AluloopLineWindowFeatures",
                                _shape_fixed(lambda op: op.get_feature_names_out().size), _convert_lines)
    update_registered_converter(NoiseLevel, "AluloopNoiseLevel", _shape_fixed(lambda op: 1), _convert_noise)
    update_registered_converter(Resampler, "AluloopResampler", _shape_fixed(lambda op: op.index_.size),
                                _convert_resampler)
    update_registered_converter(TotalEmissionNormaliser, "AluloopTotalEmissionNormaliser",
                                _shape_fixed(lambda op: op.n_features_in_), _convert_total)
    update_registered_converter(LibsModel, "AluloopLibsModel", _libs_shape, _convert_libs, parser=_libs_parser)
    _REGISTERED = True


def export_onnx(model, n_features: int, *, name: str = "aluloop_libs") -> bytes:
    """Serialised ONNX of a fitted :class:`LibsModel` (or a pipeline of aluloop transformers).

    The input is ``spectra``: float32 (n, n_features) on the model's grid.
    """
    register_converters()
    onx = to_onnx(model, initial_types=[("spectra", FloatTensorType([None, n_features]))],
                  target_opset=TARGET_OPSET, naming=name)
    onx.doc_string = "aluloop LIBS piece classifier: outputs " + ", ".join(o.name for o in onx.graph.output)
    drop_unused_initializers(onx)
    return onx.SerializeToString()


def drop_unused_initializers(onx) -> None:
    """Remove initializers no node reads, in place.

    skl2onnx's soft-voting converter leaves the class-index table of the ensemble unused;
    onnxruntime would warn about it on every load of the model.
    """
    def inputs(graph):  # names read by the graph's nodes, including those of nested subgraphs
        for node in graph.node:
            yield from node.input
            for attr in node.attribute:
                for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                    yield from inputs(sub)

    used = set(inputs(onx.graph)) | {o.name for o in onx.graph.output}
    keep = [init for init in onx.graph.initializer if init.name in used]
    if len(keep) != len(onx.graph.initializer):
        del onx.graph.initializer[:]
        onx.graph.initializer.extend(keep)


def window_footprints_from_graph(model_bytes: bytes, grid_nm, n_windows: int) -> np.ndarray:
    """(k, 2) [nm] each window's footprint read back from an exported graph's line-area weights.

    The same figures as :meth:`LineWindowFeatures.footprints_nm` for the fitted transformer, from the
    ONNX file alone: the MatMul that takes the Gather of the input spectra by a constant index list.
    It gives cards written before they carried ``footprint_lo_nm`` / ``footprint_hi_nm`` the
    figures training now writes.
    """
    import onnx
    from onnx import numpy_helper

    from sorter.preprocess.features import window_footprints_nm

    graph = onnx.load_from_string(model_bytes).graph
    constants = {t.name: t for t in graph.initializer}
    spectra = graph.input[0].name
    gathers = {n.output[0]: n for n in graph.node
               if n.op_type == "Gather" and n.input[0] == spectra and n.input[1] in constants}
    found = [n for n in graph.node if n.op_type == "MatMul" and n.input[0] in gathers and n.input[1] in constants]
    if len(found) != 1:
        raise ValueError(f"expected one line-area MatMul on the gathered spectra, found {len(found)}")
    weights = numpy_helper.to_array(constants[found[0].input[1]])
    pixels = numpy_helper.to_array(constants[gathers[found[0].input[0]].input[1]])
    return window_footprints_nm(grid_nm, pixels, weights, n_windows)
