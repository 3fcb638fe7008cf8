"""How well can any estimator read a grade's composition from one piece spectrum? The Cramer-Rao bound.

A piece spectrum is the mean of ``n_shots`` shots. Its expected counts ``mu(theta)`` depend on
the parameters theta: the wt% of each element of the piece (Al by balance) and the nuisance
parameters an estimator has to read from the same spectrum (electron temperature, log electron
density, log ablated mass, entrained air, wavelength offset, spread of the plasma states in the
gate). With independent Gaussian pixel noise of variance ``v`` (Poisson photoelectrons plus
read noise, over ``n_shots``), the Fisher information is::

    J = D^T diag(1 / v) D,        D = d mu / d theta  (pixels x parameters)

and, with a Gaussian prior of precision Lambda on theta (the grade's spread of compositions, the
plausible plasma states), any estimator, learned or physical, has an error covariance of at least
``(J + Lambda)^-1`` (the Bayesian Cramer-Rao or Van Trees bound; Van Trees 1968, Detection,
Estimation and Modulation Theory I, p. 72; Gill and Levit 1995, Bernoulli 1, 59). For Gaussian
errors the mean absolute error is ``sqrt(2/pi)`` times the standard deviation.

The same bound can be taken on what a model reads instead of the whole spectrum: the pixels of
its line windows, or the window areas, which are linear in the pixels (``y = W^T x``), so their
Fisher information ``(W^T D)^T (W^T V W)^+ (W^T D)`` is exact (:class:`PieceInformation`). By the
data-processing inequality each stage's bound is at least the one before; the steps say where a
feature extraction loses what the spectrum holds.

What the bound leaves out only makes the true limit worse, so it stays a lower bound: it counts
detector noise alone (shot-to-shot plasma scatter inside a piece is absorbed by the nuisance
parameters to first order and ignored beyond it), drops pixels at the ADC maximum, and treats
elements of the grade with a spread under ``MIN_PRIOR_SD_WT_PCT`` as known. The derivatives are
central differences of the simulator's reference (line-by-line) path, which is smooth in every
parameter; the fast batch path rounds n_e, offsets and continuum temperatures to nodes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from sorter.physics import detector
from sorter.shots import SHOTS_PER_PIECE

GAUSSIAN_MAE_PER_SD = float(np.sqrt(2.0 / np.pi))
MIN_PRIOR_SD_WT_PCT = 0.005      # elements spread less than this in the grade are taken as known [wt%]
ADC_HEADROOM = 0.98              # pixels expected above this share of the ADC maximum carry no information


def fisher_information(jacobian, variance) -> np.ndarray:
    """Fisher information ``D^T diag(1/v) D`` of independent Gaussian observations.

    Parameters
    ----------
    jacobian : array_like, shape (p, q)
        Derivative of each observation's mean with respect to each parameter [counts / unit].
    variance : array_like, shape (p,)
        Noise variance of each observation [counts^2]; must be positive.

    Returns
    -------
    ndarray, shape (q, q)
        [1 / unit^2].

    Examples
    --------
    >>> fisher_information([[1.0], [2.0]], [1.0, 4.0])
    array([[2.]])
    """
    D = np.asarray(jacobian, dtype=np.float64)
    v = np.asarray(variance, dtype=np.float64)
    if D.ndim != 2 or v.shape != (D.shape[0],):
        raise ValueError(f"jacobian {D.shape} and variance {v.shape}: expected (p, q) and (p,)")
    if np.any(v <= 0) or not np.all(np.isfinite(v)):
        raise ValueError("variance: every observation needs a finite, positive noise variance")
    return D.T @ (D / v[:, None])


def bayes_bound_sd(fisher, prior_sd) -> np.ndarray:
    """Smallest error standard deviation of each parameter: ``sqrt(diag((J + Lambda)^-1))``.

    Parameters
    ----------
    fisher : array_like, shape (q, q)
        Fisher information of the observations.
    prior_sd : array_like, shape (q,)
        Prior standard deviation of each parameter; ``inf`` for none (the classical Cramer-Rao bound).

    Examples
    --------
    >>> bayes_bound_sd([[4.0]], [np.inf])
    array([0.5])
    """
    J = np.asarray(fisher, dtype=np.float64)
    sd = np.asarray(prior_sd, dtype=np.float64)
    if J.ndim != 2 or J.shape[0] != J.shape[1] or sd.shape != (J.shape[0],):
        raise ValueError(f"fisher {J.shape} and prior_sd {sd.shape}: expected (q, q) and (q,)")
    if np.any(sd <= 0):
        raise ValueError("prior_sd: must be positive (inf for no prior)")
    cov = np.linalg.inv(J + np.diag(1.0 / sd ** 2))
    return np.sqrt(np.diag(cov))


# units: T_e [K], log_n_e [ln cm^-3], log_ablation [-], air [atoms per metal atom], offset [nm], gate [-];
# about the standard deviation of each over the training ranges (training.TRAIN_*); the ablation is
# the mean of 16 shots' log masses (0.25 / 4), the air entrainment the mean of 16 uniform draws
NUISANCE_PRIOR_SD = {"T_e_K": 1700.0, "log_n_e": 1.3, "log_ablation": 0.0625, "air": 0.0036,
                     "offset_nm": 0.012, "gate_spread": 0.05}
NUISANCE_STEP = {"T_e_K": 20.0, "log_n_e": 0.01, "log_ablation": 0.01, "air": 0.001,
                 "offset_nm": 0.001, "gate_spread": 0.005}


@dataclass(frozen=True)
class PieceConditions:
    """The plasma state and detector of one piece (the point where the bound is evaluated)."""

    T_e_K: float
    n_e_per_cm3: float
    gate_spread: float = 0.12
    noise_scale: float = 1.0
    air_atoms_per_metal_atom: float = 0.035
    # prior standard deviations of the nuisance parameters (what an estimator knows beforehand)
    nuisance_prior_sd: Mapping[str, float] = field(default_factory=lambda: dict(NUISANCE_PRIOR_SD))


def piece_counts(composition_wt_pct: Mapping[str, float], instrument, conditions: PieceConditions, *,
                 log_n_e: float | None = None, log_ablation: float = 0.0, offset_nm: float = 0.0,
                 T_e_K: float | None = None, gate_spread: float | None = None,
                 air: float | None = None) -> np.ndarray:
    """Expected counts above the dark offset on the instrument's pixels, noise-free (reference path)."""
    from sorter.simulate import PlasmaRanges, ShotConditions, shot_radiance

    comp = {e: v for e, v in composition_wt_pct.items() if e != "Al"}
    comp["Al"] = 100.0 - sum(comp.values())
    shot = ShotConditions(conditions.T_e_K if T_e_K is None else T_e_K,
                          float(np.exp(np.log(conditions.n_e_per_cm3) if log_n_e is None else log_n_e)),
                          float(np.exp(log_ablation)),
                          conditions.air_atoms_per_metal_atom if air is None else air, offset_nm)
    plasma = replace(PlasmaRanges(), gate_spread=conditions.gate_spread if gate_spread is None else gate_spread)
    rad = shot_radiance(comp, instrument, shot, plasma)
    wl = instrument.wavelength_nm
    electrons = detector.expected_photoelectrons(rad, instrument.response(wl), detector.pixel_widths(wl),
                                                 instrument.throughput_e_per_radiance_nm
                                                 * shot.ablation_scale ** (2.0 / 3.0))
    return instrument.gain_counts_per_e * electrons


@dataclass
class Bound:
    """The bound at one piece: per element, the smallest error standard deviation [wt%]."""

    elements: tuple[str, ...]
    sd_wt_pct: np.ndarray
    prior_sd_wt_pct: np.ndarray
    pixels_used: int

    def mae_wt_pct(self) -> dict[str, float]:
        """The bound as a mean absolute error (Gaussian errors) [wt%]."""
        return {e: GAUSSIAN_MAE_PER_SD * float(s) for e, s in zip(self.elements, self.sd_wt_pct, strict=True)}


def linear_fisher_information(jacobian, variance, weights) -> np.ndarray:
    """Fisher information of linear combinations ``y = x @ W`` of independent Gaussian observations x.

    ``y`` has the derivative ``W^T D`` and the noise covariance ``S = W^T diag(v) W``, so::

        J_y = (W^T D)^T S^+ (W^T D)

    with ``S^+`` the pseudo-inverse (``W^T D`` lies in the range of S, so it is exact even when
    columns of W repeat). By the data-processing inequality ``J_y <= J_x``: a window area, the
    weighted sum of a few pixels, never holds more information than those pixels.

    Parameters
    ----------
    jacobian : array_like, shape (p, q)
        Derivative of each observation's mean [counts / unit].
    variance : array_like, shape (p,)
        Noise variance of each observation [counts^2].
    weights : array_like, shape (p, k)
        Each column one linear feature's weights (e.g. a window area's pixel weights [nm]).

    Examples
    --------
    >>> linear_fisher_information([[1.0], [3.0]], [2.0, 9.0], [[1.0], [1.0]])  # (1 + 3)^2 / (2 + 9)
    array([[1.45454545]])
    """
    D = np.asarray(jacobian, dtype=np.float64)
    v = np.asarray(variance, dtype=np.float64)
    W = np.asarray(weights, dtype=np.float64)
    fisher_information(D, v)  # validates D and v
    if W.ndim != 2 or W.shape[0] != D.shape[0]:
        raise ValueError(f"weights {W.shape}: expected ({D.shape[0]}, k), one row per observation")
    Dy = W.T @ D
    S = W.T @ (W * v[:, None])
    return Dy.T @ np.linalg.pinv(S, hermitian=True) @ Dy


@dataclass
class PieceInformation:
    """What a piece spectrum says about its parameters: the derivative and noise of every pixel.

    ``counts`` (pixels,) are the expected counts above the dark offset [counts], ``jacobian``
    (pixels, q) and ``variance`` (pixels,) their derivatives and noise; all cover every pixel; the
    parameters are the free elements' wt% and then the nuisance parameters (``NUISANCE_STEP``
    order); ``usable`` marks pixels below the ADC headroom. :meth:`bound` reads all usable
    pixels; :meth:`bound_of` reads only linear features of them (a model's line windows), so
    comparing the two says how much a feature extraction keeps.
    """

    elements: tuple[str, ...]
    counts: np.ndarray
    jacobian: np.ndarray
    variance: np.ndarray
    usable: np.ndarray
    prior_sd: np.ndarray

    def _bound(self, fisher) -> Bound:
        sd = bayes_bound_sd(fisher, self.prior_sd)
        k = len(self.elements)
        return Bound(self.elements, sd[:k], self.prior_sd[:k], int(self.usable.sum()))

    def bound(self) -> Bound:
        """The bound from every usable pixel."""
        u = self.usable
        return self._bound(fisher_information(self.jacobian[u], self.variance[u]))

    def bound_of(self, pixels, weights=None) -> Bound:
        """The bound from linear features ``x[:, pixels] @ weights`` (without weights: the pixels themselves).

        Parameters
        ----------
        pixels : array_like of int, shape (m,)
            Pixel indices the features read.
        weights : array_like, shape (m, k), optional
            Each column one feature's weights (``LineWindowFeatures.weights_``). A feature that
            touches a pixel at the ADC maximum is dropped, as a model reading a clipped line would be
            misled by it.
        """
        px = np.asarray(pixels, dtype=np.int64)
        if px.ndim != 1 or np.any(px < 0) or np.any(px >= self.usable.size):
            raise ValueError(f"pixels: indices must lie in 0..{self.usable.size - 1}")
        if weights is None:
            px = px[self.usable[px]]
            return self._bound(fisher_information(self.jacobian[px], self.variance[px]))
        W = np.asarray(weights, dtype=np.float64)
        if W.ndim != 2 or W.shape[0] != px.size:
            raise ValueError(f"weights {W.shape}: expected ({px.size}, k), one row per pixel")
        clean = ~np.any((W != 0.0) & ~self.usable[px][:, None], axis=0)
        return self._bound(linear_fisher_information(self.jacobian[px], self.variance[px], W[:, clean]))


def piece_information(composition_wt_pct: Mapping[str, float], prior_sd_wt_pct: Mapping[str, float], instrument,
                      conditions: PieceConditions, *, n_shots: int = SHOTS_PER_PIECE) -> PieceInformation:
    """Derivatives and noise of a piece spectrum of this composition under these conditions.

    Parameters
    ----------
    composition_wt_pct : mapping
        The piece's composition (Al by balance) [wt%].
    prior_sd_wt_pct : mapping
        Spread of each element over the grade (the prior an estimator trained on the grade has)
        [wt%]; elements missing or under ``MIN_PRIOR_SD_WT_PCT`` are taken as known.
    instrument : Instrument
    conditions : PieceConditions
    n_shots : int
        Shots averaged into the piece spectrum.
    """
    if n_shots < 1:
        raise ValueError(f"n_shots: {n_shots} must be at least 1")
    free = [e for e, s in prior_sd_wt_pct.items() if e != "Al" and s >= MIN_PRIOR_SD_WT_PCT]
    base = dict(composition_wt_pct)
    mu = piece_counts(base, instrument, conditions)
    keep = mu + instrument.dark_counts < ADC_HEADROOM * instrument.adc_max_counts
    nuisance0 = {"T_e_K": conditions.T_e_K, "log_n_e": float(np.log(conditions.n_e_per_cm3)), "log_ablation": 0.0,
                 "air": conditions.air_atoms_per_metal_atom, "offset_nm": 0.0, "gate_spread": conditions.gate_spread}
    columns = []
    for e in free:
        h = max(0.05 * prior_sd_wt_pct[e], 1e-4)
        up, down = dict(base), dict(base)
        up[e] += h
        down[e] = max(down[e] - h, 0.0)
        columns.append((piece_counts(up, instrument, conditions) - piece_counts(down, instrument, conditions))
                       / (up[e] - down[e]))

    def at(name: str, value: float) -> np.ndarray:
        args = dict(nuisance0)
        args[name] = value
        return piece_counts(base, instrument, conditions, T_e_K=args["T_e_K"], log_n_e=args["log_n_e"],
                            log_ablation=args["log_ablation"], air=args["air"], offset_nm=args["offset_nm"],
                            gate_spread=args["gate_spread"])

    for name, h in NUISANCE_STEP.items():
        columns.append((at(name, nuisance0[name] + h) - at(name, nuisance0[name] - h)) / (2.0 * h))
    g = instrument.gain_counts_per_e
    var = detector.count_variance(mu / g, gain=g, read_noise=instrument.read_noise_counts,
                                  noise_scale=conditions.noise_scale) / n_shots
    prior = np.array([prior_sd_wt_pct[e] for e in free] + [conditions.nuisance_prior_sd[k] for k in NUISANCE_STEP])
    return PieceInformation(tuple(free), mu, np.stack(columns, axis=1), np.asarray(var, dtype=np.float64), keep, prior)


def composition_bound(composition_wt_pct: Mapping[str, float], prior_sd_wt_pct: Mapping[str, float], instrument,
                      conditions: PieceConditions, *, n_shots: int = SHOTS_PER_PIECE) -> Bound:
    """The Van Trees bound on each element's wt% for a piece of this composition under these conditions.

    Every usable pixel counts; see :func:`piece_information` for the parameters and
    :meth:`PieceInformation.bound_of` for the bound of a model's line windows alone.
    """
    return piece_information(composition_wt_pct, prior_sd_wt_pct, instrument, conditions, n_shots=n_shots).bound()


def grade_prior(grade: str, n: int = 4000, seed: int = 0) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and standard deviation of each element over the grade's sampled compositions [wt%]."""
    from sorter.grades import sample_compositions

    comps = sample_compositions(grade, n, np.random.default_rng(seed))
    els = [e for e in comps[0] if e != "Al"]
    M = np.array([[c[e] for e in els] for c in comps])
    return dict(zip(els, M.mean(axis=0).tolist(), strict=True)), dict(zip(els, M.std(axis=0).tolist(), strict=True))
