"""A family head that carries to plasmas and spectrometers the model never saw (issue 30, item 4).

The grade classifier reads every line window, ratios of lines far apart included, so it learns our
simulator's plasma model and the training spectrometer's response: on another LTE simulator seen
through another instrument it placed 0.61-0.64 of the pieces in the right family. The family is a
coarser question that thin lines answer by themselves: a 5xxx has Mg in wt%, a 3xxx Mn near 1 wt%,
a 2xxx Cu, a 7xxx Zn, a cast alloy Si, a 6xxx Mg and Si both in tenths of a percent, a 1xxx none.

So the family head reads only

* the locally baseline-corrected areas of thin lines of the family-defining elements (Mg, Mn, Si,
  Cu, Zn, Cr, Fe; Ni and Pb for the non-aluminium contaminants), each as the asinh of its ratio to
  the nearest thin Al line of the same ion stage, so a smooth spectral response and continuum
  cancel (:class:`FamilyFeatures`);

and it is trained on spectra drawn over a wide domain randomisation of our simulator
(:func:`randomised_batch`): temperatures and densities beyond the bundled models' training
ranges, random smooth spectral responses, continua, resolutions 0.05-0.3 nm, pixel pitches, and
wavelength offsets, single shots. What it cannot place goes to ``unknown``: a family probability
under a bar, or family features far (Mahalanobis) from every family it was trained on.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from sorter.preprocess.features import LineWindowFeatures
from sorter.preprocess.lines import feature_lines

# the elements whose content defines an aluminium family (and, Ni and Pb, the contaminants)
FAMILY_ELEMENTS = ("Mg", "Mn", "Si", "Cu", "Zn", "Cr", "Fe", "Ni", "Pb")


def family_lines(elements: Sequence[str] = FAMILY_ELEMENTS):
    """The thin Al references and the analyte windows of ``elements`` from ``feature_lines.csv``."""
    return tuple(ln for ln in feature_lines()
                 if ln.is_reference or (ln.role == "analyte" and ln.element in elements))


class FamilyFeatures(TransformerMixin, BaseEstimator):
    """asinh(area of an analyte line / area of the nearest thin Al line of its ion stage), on a fixed grid.

    The first block of :class:`~sorter.preprocess.features.LineWindowFeatures` restricted to
    :func:`family_lines`: ratios to the total line emission are left out, because the total sums
    windows hundreds of nm apart and so carries the spectral response.

    Parameters
    ----------
    grid_nm : array_like, shape (p,)
        The model's pixel grid [nm].
    lo_nm, hi_nm : float
        Only windows whose footprint lies in this range [nm] are read, so that a spectrometer
        covering just that range still gets a family.
    """

    def __init__(self, grid_nm=None, names: Sequence[str] | None = None, lo_nm: float = 0.0, hi_nm: float = 1e4,
                 half_width_nm: float = 0.45, background_nm: float = 0.3, band_search_nm: float = 0.0):
        self.grid_nm = grid_nm
        self.names = names
        self.lo_nm = lo_nm
        self.hi_nm = hi_nm
        self.half_width_nm = half_width_nm
        self.background_nm = background_nm
        self.band_search_nm = band_search_nm

    def fit(self, X=None, y=None):
        lines = [ln for ln in family_lines() if ln.first_nm - 1.0 >= self.lo_nm and ln.last_nm + 1.0 <= self.hi_nm
                 and (self.names is None or ln.is_reference or ln.name in self.names)]
        self.lines_ = LineWindowFeatures(self.grid_nm, lines=lines, half_width_nm=self.half_width_nm,
                                         background_nm=self.background_nm, band_search_nm=self.band_search_nm).fit(X)
        self.n_analytes_ = int(self.lines_.analytes_.size)
        self.n_features_in_ = self.lines_.n_features_in_
        return self

    def transform(self, X):
        check_is_fitted(self, "lines_")
        return self.lines_.transform(X)[:, :self.n_analytes_]

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "lines_")
        return self.lines_.get_feature_names_out()[:self.n_analytes_]


def random_response(rng: np.random.Generator, lo_nm: float,
                    hi_nm: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """A smooth random relative spectral response: knots every ~40 nm, log-normal around a random tilt."""
    n = max(4, int((hi_nm - lo_nm) / 40.0) + 1)
    knots = np.linspace(lo_nm - 1.0, hi_nm + 1.0, n)
    x = (knots - knots[0]) / (knots[-1] - knots[0])
    tilt = rng.uniform(-1.5, 1.5) * (x - 0.5) + rng.uniform(-1.0, 1.0) * (x - 0.5) ** 2
    wiggle = np.convolve(rng.normal(0.0, 0.35, n + 2), np.ones(3) / 3.0, mode="valid")
    rel = np.exp(tilt + wiggle)
    return tuple(knots.tolist()), tuple((rel / rel.max()).tolist())


def randomised_batch(grid_nm: np.ndarray, n_per_grade: int, chunks: int, seed: int,
                     grades: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Single-shot spectra of every grade over ``chunks`` random instruments and plasmas, on ``grid_nm``.

    Each chunk draws one spectrometer over the grid's range (resolution 0.05-0.3 nm FWHM, pixel
    pitch 0.03-0.35 nm, a random smooth response, continuum x0.3-3, gain x0.5-2) and one
    plasma range (T_e 7,000-17,000 K, n_e 3e15-5e18 cm^-3, gate spread 0-0.25, more ablation
    scatter and entrained air than the bundled models saw), simulates ``n_per_grade / chunks``
    shots per grade with offsets within +-0.08 nm, and resamples them onto ``grid_nm`` as the
    runtime would. Returns (intensity (n, p), grade labels (n,)).
    """
    from sorter.grades import list_grades
    from sorter.instruments import Instrument
    from sorter.preprocess.grid import resample
    from sorter.simulate import PlasmaRanges, simulate_batch

    grid = np.asarray(grid_nm, dtype=np.float64)
    grades = list(grades or list_grades())
    rng = np.random.default_rng(seed)
    per = max(1, n_per_grade // chunks)
    lo, hi = float(grid[0]), float(grid[-1])
    X, y = [], []
    for c in range(chunks):
        pitch = float(np.exp(rng.uniform(np.log(0.03), np.log(0.35))))
        n_px = int(np.clip((hi - lo) / pitch, 600, 6000))
        knots, rel = random_response(rng, lo, hi)
        inst = Instrument(name=f"random-{seed}-{c}", wavelength_min_nm=lo - 0.5, wavelength_max_nm=hi + 0.5,
                          n_pixels=n_px, resolution_fwhm_nm=float(rng.uniform(0.05, 0.3)),
                          calibration_curvature_nm=float(rng.uniform(-0.5, 0.5)), wavelength_drift_sd_nm=0.01,
                          response_wavelength_nm=knots, response_relative=rel,
                          throughput_e_per_radiance_nm=float(np.exp(rng.uniform(np.log(0.5), np.log(2.0)))),
                          read_noise_counts=float(rng.uniform(0.8, 2.0)),
                          dark_counts=float(rng.uniform(100, 600)),
                          continuum_scale=float(np.exp(rng.uniform(np.log(0.3), np.log(3.0)))))
        t_lo = float(rng.uniform(7000, 11000))
        ne_lo = float(np.exp(rng.uniform(np.log(3e15), np.log(1e17))))
        plasma = PlasmaRanges(T_e_K=(t_lo, min(17000.0, t_lo + rng.uniform(3000, 7000))),
                              n_e_per_cm3=(ne_lo, min(5e18, ne_lo * 10 ** rng.uniform(1.0, 2.3))),
                              gate_spread=float(rng.uniform(0.0, 0.25)), ablation_sd=0.35,
                              air_atoms_per_metal_atom=(0.0, float(rng.uniform(0.03, 0.15))),
                              coupling=float(rng.uniform(0.3, 0.9)))
        b = simulate_batch(grades, per, inst, seed=int(rng.integers(2**31)), plasma=plasma,
                           noise_scale=float(rng.uniform(0.7, 1.5)), wavelength_offset_nm=(-0.08, 0.08))
        X.append(resample(b.wavelength_nm, b.intensity.astype(np.float64), grid))
        y.append(b.labels)
    return np.concatenate(X), np.concatenate(y)


def jitter_line_strengths(F: np.ndarray, sd_dex: float, rng: np.random.Generator, group: int = 20) -> np.ndarray:
    """Family features with each line's strength scaled by a random factor, 10^N(0, sd_dex), per group of rows.

    Another plasma model's atomic data (transition probabilities, Stark widths, partition functions)
    and another spectrometer's response between a line and its Al reference scale a line ratio by a
    factor the training simulator cannot know; in asinh(ratio / floor) that is close to an additive
    offset. Training on jittered copies keeps the head from resting on any one line's absolute level.
    """
    out = np.empty_like(F)
    for s in range(0, F.shape[0], group):
        scale = 10.0 ** rng.normal(0.0, sd_dex, F.shape[1])
        out[s:s + group] = np.arcsinh(np.sinh(F[s:s + group]) * scale)
    return out


@dataclass
class FamilyHead:
    """A fitted family head: line areas, ratios, a multinomial logistic regression and an OOD distance.

    Everything is plain arrays so that :func:`family_head_nodes` writes it into the ONNX graph and
    :meth:`predict` computes the same in numpy (the test checks one against the other).

    ``pixels`` (m,) and ``weights`` (m, k): window areas = spectra[:, pixels] @ weights [counts nm];
    ``analytes`` and ``references`` (a,): the window of each feature's numerator and its Al line;
    ``mean`` and ``scale`` (a,): the standardisation; ``layers``: the (weights, bias) of each layer of
    the classifier over ``families``, ReLU between them, softmax after the last; ``centres`` (c, a)
    the families' mean standardised features and ``whiten`` (a, a) a matrix with
    ``|(z - centre) @ whiten|^2`` the squared Mahalanobis distance under the pooled within-family covariance.
    """

    families: list[str]
    feature_names: list[str]
    pixels: np.ndarray
    weights: np.ndarray
    analytes: np.ndarray
    references: np.ndarray
    soft: float
    floor: float
    mean: np.ndarray
    scale: np.ndarray
    layers: list[tuple[np.ndarray, np.ndarray]]
    centres: np.ndarray
    whiten: np.ndarray

    def features(self, X: np.ndarray) -> np.ndarray:
        A = np.asarray(X, dtype=np.float64)[:, self.pixels] @ self.weights
        total = A.sum(axis=1, keepdims=True)
        d_ref = np.sqrt(A[:, self.references] ** 2 + (self.soft * total) ** 2)
        return np.arcsinh(A[:, self.analytes] / d_ref / self.floor)

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(family probabilities (n, c), RMS-per-feature Mahalanobis distance to the nearest family (n,))."""
        z = (self.features(X) - self.mean) / self.scale
        h = z
        for i, (W, b) in enumerate(self.layers):
            h = h @ W + b
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        logits = h - h.max(axis=1, keepdims=True)
        P = np.exp(logits)
        P /= P.sum(axis=1, keepdims=True)
        d2 = (((z[:, None, :] - self.centres[None]) @ self.whiten) ** 2).sum(axis=2)
        return P, np.sqrt(d2.min(axis=1) / z.shape[1])


def fit_family_head(X: np.ndarray, grades: np.ndarray, grid_nm: np.ndarray, *, names: Sequence[str] | None = None,
                    jitter_dex: float = 0.15, copies: int = 3, hidden: tuple[int, ...] = (64,), seed: int = 0,
                    half_width_nm: float = 0.45, background_nm: float = 0.3) -> FamilyHead:
    """Fit the family head on spectra ``X`` (n, p) on ``grid_nm`` of the grades ``grades`` (n,).

    ``copies`` jittered copies of every spectrum's features (:func:`jitter_line_strengths`) join the
    originals. A small MLP (one hidden layer of 64 by default): on the other simulator's training
    spectra it placed 0.85 of the pieces in the right family where a multinomial logistic regression
    on the same features placed 0.64, and a (128, 64) MLP was surer of its wrong answers
    (docs/classifier.md, "A family head that carries").
    """
    from sklearn.neural_network import MLPClassifier

    from sorter.serving.families import family_of

    feats = FamilyFeatures(grid_nm, names=names, half_width_nm=half_width_nm, background_nm=background_nm).fit(X)
    F = feats.transform(X)
    fam = np.array([family_of(g) for g in grades])
    rng = np.random.default_rng(seed)
    F = np.concatenate([F] + [jitter_line_strengths(F, jitter_dex, rng) for _ in range(copies)])
    fam = np.tile(fam, copies + 1)
    mean, scale = F.mean(axis=0), F.std(axis=0) + 1e-9
    Z = (F - mean) / scale
    with warnings.catch_warnings():   # an unconverged last epoch changes nothing that matters here
        warnings.simplefilter("ignore")
        clf = MLPClassifier(hidden, alpha=1e-3, max_iter=300, random_state=seed).fit(Z, fam)
    if len(clf.classes_) == 2:
        raise ValueError("the family head needs grades of at least three families")
    families = [str(c) for c in clf.classes_]
    centres = np.array([Z[fam == f].mean(axis=0) for f in families])
    resid = Z - centres[np.searchsorted(families, fam)]
    cov = resid.T @ resid / max(1, resid.shape[0] - len(families)) + 1e-6 * np.eye(Z.shape[1])
    # cov^-1 = W W^T with W = inverse of the Cholesky factor's transpose
    whiten = np.linalg.inv(np.linalg.cholesky(cov)).T
    lw = feats.lines_
    return FamilyHead(families=families, feature_names=[str(n) for n in feats.get_feature_names_out()],
                      pixels=np.asarray(lw.pixels_, dtype=np.int64), weights=np.asarray(lw.weights_, dtype=np.float64),
                      analytes=np.asarray(lw.analytes_, dtype=np.int64),
                      references=np.asarray(lw.reference_of_[lw.analytes_], dtype=np.int64),
                      soft=float(lw.soft), floor=float(lw.floor), mean=mean, scale=scale,
                      layers=[(np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64))
                              for W, b in zip(clf.coefs_, clf.intercepts_, strict=True)],
                      centres=centres, whiten=whiten)


def family_thresholds(head: FamilyHead, X: np.ndarray, grades: np.ndarray, *, max_wrong: float = 0.02,
                      distance_quantile: float = 0.995) -> dict:
    """The accept bars of a family head, from validation spectra ``X`` of ``grades`` drawn apart from training.

    ``max_distance``: the ``distance_quantile`` of the validation spectra's distance to their nearest
    family (farther is out of distribution). ``min_probability``: the lowest bar (at least 0.5) at
    which the pieces accepted with a wrong family are at most ``max_wrong`` of all pieces.
    """
    from sorter.serving.families import family_of

    P, dist = head.predict(X)
    true = np.array([family_of(g) for g in grades])
    pred = np.array(head.families)[P.argmax(axis=1)]
    top = P.max(axis=1)
    max_distance = float(np.quantile(dist, distance_quantile))
    inside = dist <= max_distance
    bar = 0.5
    for b in np.unique(np.concatenate([[0.5], top[top > 0.5]])):
        bar = float(b)
        if np.mean(inside & (top >= b) & (pred != true)) <= max_wrong:
            break
    acc = inside & (top >= bar)
    return {"min_probability": round(bar, 6), "max_distance": round(max_distance, 6),
            "validation": {"n": int(true.size), "family_accuracy": float(np.mean(pred == true)),
                           "wrong_family_accepted": float(np.mean(acc & (pred != true))),
                           "unknown": float(np.mean(~acc))}}


FAMILY_OUTPUTS = {
    "family_probabilities": "(n, families) family probabilities of the family head (card family_head.families)",
    "family_distance": "(n, 1) Mahalanobis distance of the family features to the nearest family (RMS per feature)",
}


def attach_family_head(model_bytes: bytes, head: FamilyHead) -> bytes:
    """The ONNX model ``model_bytes`` with the family head's outputs added (:data:`FAMILY_OUTPUTS`).

    The head reads the same input (spectra on the model grid) as the rest of the graph; its nodes
    and initialisers are prefixed ``family_``. Outputs already there are left as they are, so a
    model's grade, composition and quality answers do not change.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load_from_string(model_bytes)
    g = model.graph
    for name in FAMILY_OUTPUTS:
        if any(o.name == name for o in g.output):
            raise ValueError(f"the model already has an output {name!r}")
    x = g.input[0].name
    f32 = np.float32

    def const(name: str, value, dtype=f32) -> str:
        g.initializer.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), f"family_{name}"))
        return f"family_{name}"

    def node(op: str, inputs: list[str], out: str, **attrs) -> str:
        g.node.append(helper.make_node(op, inputs, [out], name=f"family_{out}_{op}", **attrs))
        return out

    k = "family_"
    px = node("Gather", [x, const("pixels", head.pixels, np.int64)], k + "px", axis=1)
    areas = node("MatMul", [px, const("weights", head.weights)], k + "areas")
    total = node("ReduceSum", [areas, const("axis1", [1], np.int64)], k + "total", keepdims=1)
    an = node("Gather", [areas, const("analytes", head.analytes, np.int64)], k + "an", axis=1)
    ref = node("Gather", [areas, const("references", head.references, np.int64)], k + "ref", axis=1)
    soft_total = node("Mul", [total, const("soft", head.soft)], k + "soft_total")
    d2 = node("Add", [node("Mul", [ref, ref], k + "ref2"), node("Mul", [soft_total, soft_total], k + "st2")],
              k + "d2")
    d = node("Sqrt", [d2], k + "d")
    ratio = node("Div", [an, node("Mul", [d, const("floor", head.floor)], k + "dfloor")], k + "ratio")
    feat = node("Asinh", [ratio], k + "features")
    z = node("Div", [node("Sub", [feat, const("mean", head.mean)], k + "centred"), const("scale", head.scale)],
             k + "z")
    h = z
    for i, (W, b) in enumerate(head.layers):
        h = node("Add", [node("MatMul", [h, const(f"W{i}", W)], k + f"hw{i}"), const(f"b{i}", b)], k + f"h{i}")
        if i < len(head.layers) - 1:
            h = node("Relu", [h], k + f"relu{i}")
    node("Softmax", [h], "family_probabilities", axis=1)
    # distance to each family: |(z - centre) W|^2 = |zW - centre W|^2
    zw = node("Unsqueeze", [node("MatMul", [z, const("whiten", head.whiten)], k + "zw"),
                            const("axis1b", [1], np.int64)], k + "zw3")
    diff = node("Sub", [zw, const("centres_w", (head.centres @ head.whiten)[None])], k + "diff")
    sq = node("ReduceSum", [node("Mul", [diff, diff], k + "sq"), const("axis2", [2], np.int64)], k + "dist2",
              keepdims=0)
    nearest = node("ReduceMin", [sq], k + "nearest", axes=[1], keepdims=1)
    node("Sqrt", [node("Div", [nearest, const("n_features", float(head.mean.size))], k + "per_feature")],
         "family_distance")
    c = len(head.families)
    g.output.append(helper.make_tensor_value_info("family_probabilities", TensorProto.FLOAT, [None, c]))
    g.output.append(helper.make_tensor_value_info("family_distance", TensorProto.FLOAT, [None, 1]))
    onnx.checker.check_model(model)
    return model.SerializeToString()


def head_card(head: FamilyHead, thresholds: dict, lines: FamilyFeatures | None = None, **extra) -> dict:
    """The card's ``family_head`` section: families, bars, the windows read, and how it was trained."""
    return {"families": list(head.families), "feature_names": list(head.feature_names),
            "min_probability": thresholds["min_probability"], "max_distance": thresholds["max_distance"],
            "validation": thresholds.get("validation", {}), **extra}


def family_line_names() -> tuple[str, ...]:
    """The windows the family head reads, from ``sorter/data/family_lines.csv``."""
    from blending.catalogue.tables import read_package_csv

    rows = read_package_csv("sorter.data", "family_lines.csv", required_columns=("name", "element", "reason",
                                                                                   "source"))
    known = {ln.name for ln in feature_lines()}
    names = []
    for row in rows:
        name = row.text("name")
        if name not in known:
            raise row.error("name", f"{name!r} is not a window of feature_lines.csv")
        names.append(name)
    return tuple(names)


def strip_family_head(model_bytes: bytes) -> bytes:
    """``model_bytes`` without a family head attached earlier (its outputs, nodes and initialisers)."""
    import onnx

    model = onnx.load_from_string(model_bytes)
    g = model.graph
    keep_out = [o for o in g.output if o.name not in FAMILY_OUTPUTS]
    keep_nodes = [n for n in g.node if not n.name.startswith("family_")]
    keep_init = [t for t in g.initializer if not t.name.startswith("family_")]
    del g.output[:], g.node[:], g.initializer[:]
    g.output.extend(keep_out)
    g.node.extend(keep_nodes)
    g.initializer.extend(keep_init)
    return model.SerializeToString()


def train_family_head(model_path, *, n_per_grade: int = 240, chunks: int = 48, seed: int = 0,
                      n_validation_per_grade: int = 60, cache=None, progress=None) -> dict:
    """Fit a family head for the model at ``model_path`` and write it into the model and its card.

    Training spectra: :func:`randomised_batch` with ``seed`` on the model's grid; validation (for the
    bars): another ``n_validation_per_grade`` per grade with ``seed + 1000``. The model's other
    outputs are untouched; a head attached earlier is replaced. ``cache``: a folder that keeps the
    simulated spectra, so a rerun (other bars, another classifier size) skips the simulation.
    Returns the card's new section.
    """
    from pathlib import Path

    from sorter.serving.card import CARD_SCHEMA_VERSION, ModelCard, card_path_for, sha256_bytes

    model_path = Path(model_path)
    card_path = card_path_for(model_path)
    card = ModelCard.read(card_path)
    grid = np.asarray(card.wavelength_grid_nm, dtype=np.float64)
    grades = list(card.classes)

    def simulated(n: int, k: int, s: int) -> tuple[np.ndarray, np.ndarray]:
        # float32, as the graph reads spectra: a run with the cache and one without fit the same head
        if cache is None:
            X, y = randomised_batch(grid, n, k, s, grades)
            return X.astype(np.float32), y
        path = Path(cache) / f"family_{grid.size}px_{grid[0]:g}-{grid[-1]:g}nm_{n}x{k}_seed{s}.npz"
        if path.exists():
            with np.load(path) as d:
                if list(np.unique(d["y"])) == sorted(grades):
                    return d["X"], d["y"]
        X, y = randomised_batch(grid, n, k, s, grades)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, X=X.astype(np.float32), y=y)
        return X.astype(np.float32), y

    X, y = simulated(n_per_grade, chunks, seed)
    if progress:
        progress("family head: training spectra simulated", len(y))
    Xv, yv = simulated(n_validation_per_grade, max(4, chunks // 4), seed + 1000)
    names = family_line_names()
    head = fit_family_head(X, y, grid, names=names, seed=seed)
    thresholds = family_thresholds(head, Xv, yv)
    section = head_card(head, thresholds, training={
        "source": (f"sorter.training.family_head.randomised_batch: {n_per_grade} single shots per grade over "
                   f"{chunks} random spectrometers and plasmas (seed {seed}); validation {n_validation_per_grade} "
                   f"per grade (seed {seed + 1000})"),
        "n_spectra": int(y.size), "lines": "sorter/data/family_lines.csv"})
    model_bytes = attach_family_head(strip_family_head(model_path.read_bytes()), head)
    model_path.write_bytes(model_bytes)
    card.model_sha256 = sha256_bytes(model_bytes)
    card.family_head = section
    card.onnx_outputs = {**{k: v for k, v in card.onnx_outputs.items() if k not in FAMILY_OUTPUTS}, **FAMILY_OUTPUTS}
    card.schema_version = CARD_SCHEMA_VERSION
    step = (f"aluloop train family-head --model {model_path} --n-per-grade {n_per_grade} --chunks {chunks} "
            f"--seed {seed}")
    card.reproduce = card.reproduce.split(" && aluloop train family-head")[0] + " && " + step
    card.write(card_path)
    return section
