"""Line-window features: locally baseline-corrected line areas and their ratios to aluminium.

Why areas and ratios: a line's integrated area does not depend on the spectrometer's
resolution (the instrument profile spreads the line but keeps its area), a straight
background under each window removes the local continuum whatever its shape, and the
ratio to a nearby Al line of the same ion stage cancels the ablated mass, most of the
spectral response and part of the temperature dependence (Cremers and Radziemski 2013,
ch. 5; Ciucci et al. 1999). These are the features that survive a change of instrument.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from blending.errors import InputError
from sorter.preprocess.grid import window_weights
from sorter.preprocess.lines import FeatureLine, feature_lines


@dataclass(frozen=True)
class Window:
    """A line window and its two background bands on the model grid [nm]."""

    line: FeatureLine
    lo_nm: float
    hi_nm: float
    background_nm: float
    left_gap_nm: float = 0.0       # how far each band sits from the window's edge
    right_gap_nm: float = 0.0

    @property
    def bands(self) -> tuple[tuple[float, float], tuple[float, float]]:
        left_end = self.lo_nm - self.left_gap_nm
        right_start = self.hi_nm + self.right_gap_nm
        return (left_end - self.background_nm, left_end), (right_start, right_start + self.background_nm)


def _window_and_bands(wl: np.ndarray, window: Window) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """Pixel shares of the window and its left and right bands, and the bands' mean wavelengths [nm]."""
    w_win = window_weights(wl, window.lo_nm, window.hi_nm)
    (l0, l1), (r0, r1) = window.bands
    w_left = window_weights(wl, l0, l1)
    w_right = window_weights(wl, r0, r1)
    return w_win, w_left, w_right, float(w_left @ wl / w_left.sum()), float(w_right @ wl / w_right.sum())


def area_weights(wavelength_nm: np.ndarray, window: Window) -> np.ndarray:
    """Weights ``w`` with ``intensity @ w`` = line area above a straight local baseline [counts nm].

    The baseline runs through the mean intensity of the left band (at its mean wavelength)
    and of the right band; integrating it over the window and subtracting is linear in the
    intensities, so the whole area is one dot product.
    """
    wl = np.asarray(wavelength_nm, dtype=np.float64)
    w_win, w_left, w_right, lam_left, lam_right = _window_and_bands(wl, window)
    s0 = float(w_win.sum())
    lam_centre = float(w_win @ wl / s0)
    t = (lam_centre - lam_left) / (lam_right - lam_left)
    return w_win - s0 * (1.0 - t) * w_left / w_left.sum() - s0 * t * w_right / w_right.sum()


def moment_weights(wavelength_nm: np.ndarray, window: Window) -> np.ndarray:
    """Weights ``m`` with ``intensity @ m`` = first moment of the line above the local baseline
    about the line's centre, sum over the window of (lambda - centre) (I - baseline) [counts nm^2].

    The baseline is the straight line of :func:`area_weights`; divided by the area, the moment
    is the line's centroid offset from its nominal centre [nm], linear in the intensities.
    """
    wl = np.asarray(wavelength_nm, dtype=np.float64)
    w_win, w_left, w_right, lam_left, lam_right = _window_and_bands(wl, window)
    lever = w_win * (wl - window.line.centre_nm)
    tau = (wl - lam_left) / (lam_right - lam_left)
    return (lever - float(lever @ (1.0 - tau)) * w_left / w_left.sum()
            - float(lever @ tau) * w_right / w_right.sum())


def shifted_window(window: Window, shift_nm: float) -> Window:
    """The same window and bands moved by ``shift_nm`` [nm]."""
    from dataclasses import replace

    line = replace(window.line, first_nm=window.line.first_nm + shift_nm, last_nm=window.line.last_nm + shift_nm)
    return replace(window, line=line, lo_nm=window.lo_nm + shift_nm, hi_nm=window.hi_nm + shift_nm)


def quadratic_in_shift(wavelength_nm: np.ndarray, window: Window, weights_fn, delta_nm: float) -> np.ndarray:
    """(p, 3) weights ``c0, c1, c2`` with ``weights_fn(wavelength_nm, window moved by s)`` ~ ``c0 + s c1 + s^2 c2``.

    The quadratic through the window at -``delta_nm``, 0 and +``delta_nm`` [nm]. A window moved by
    ``s`` follows a spectrum offset by ``s``. Moving the edges of a window (and of its bands) is
    linear in the pixel shares it covers (:func:`window_weights`) only until an edge crosses a
    pixel boundary, and an area is even in the offset for a symmetric line, so a first-order
    (derivative) correction is wrong by a factor of about 2; the quadratic is exact at the three
    positions and follows the wings of a broad line between them.
    """
    lo = weights_fn(wavelength_nm, shifted_window(window, -delta_nm))
    mid = weights_fn(wavelength_nm, window)
    hi = weights_fn(wavelength_nm, shifted_window(window, delta_nm))
    return np.stack([mid, (hi - lo) / (2.0 * delta_nm), (hi - 2.0 * mid + lo) / (2.0 * delta_nm ** 2)], axis=1)


BAND_MOVE_SHARE = 1e-4   # share of the total line flux a band must shed per band width it moves out


def line_emission(wavelength_nm: np.ndarray, X, opening_nm: float, quantile: float = 0.9,
                  max_spectra: int = 4000) -> np.ndarray:
    """Line emission above the continuum at each pixel, as a share of the spectrum's total, (p,).

    The continuum is the morphological opening of each spectrum (a running minimum, then a
    running maximum, over ``opening_nm`` [nm]), which passes under every feature narrower than
    that; what is left is line flux. Per pixel, the ``quantile`` over the spectra of that flux
    divided by the spectrum's total line flux: a pixel counts as emitting if it emits in some
    grades or plasma states, not only on average. At most ``max_spectra`` spectra (evenly
    spaced through ``X``) are used.
    """
    from scipy.ndimage import maximum_filter1d, minimum_filter1d

    X = np.asarray(X)
    if X.shape[0] > max_spectra:
        X = X[np.linspace(0, X.shape[0] - 1, max_spectra).astype(int)]
    X = X.astype(np.float64)      # convert the subsample, not the whole training set
    step = float(np.median(np.diff(np.asarray(wavelength_nm, dtype=np.float64))))
    size = max(3, int(round(opening_nm / step)) | 1)
    continuum = maximum_filter1d(minimum_filter1d(X, size, axis=1, mode="nearest"), size, axis=1, mode="nearest")
    excess = X - continuum
    excess /= np.maximum(excess.sum(axis=1, keepdims=True), 1e-12)
    return np.quantile(excess, quantile, axis=0)


def quietest_bands(wavelength_nm: np.ndarray, window: Window, emission: np.ndarray, search_nm: float) -> Window:
    """The window with each background band moved outwards, by up to ``search_nm`` [nm], to the
    position where it holds the smallest share of the line emission (:func:`line_emission`).

    Positions are tried in steps of a tenth of the band width. Moving one band width further out
    must save at least ``BAND_MOVE_SHARE`` of the total line flux: the straight baseline through
    the bands is better the closer they are to the line, and where nothing emits nearby the
    bands stay next to the window.
    """
    wl = np.asarray(wavelength_nm, dtype=np.float64)
    step = float(np.median(np.diff(wl)))
    bg = window.background_nm
    gaps = np.arange(0.0, search_nm + 1e-12, bg / 10.0)

    def cost(lo: float, hi: float, gap: float) -> float:
        if lo < wl[0] or hi > wl[-1]:
            return np.inf
        return float(window_weights(wl, lo, hi) @ emission / step) + BAND_MOVE_SHARE * gap / bg

    left = min(gaps, key=lambda g: cost(window.lo_nm - g - bg, window.lo_nm - g, g))
    right = min(gaps, key=lambda g: cost(window.hi_nm + g, window.hi_nm + g + bg, g))
    return Window(window.line, window.lo_nm, window.hi_nm, bg, float(left), float(right))


def window_footprints_nm(wavelength_nm: np.ndarray, pixels: np.ndarray, weights: np.ndarray,
                         n_windows: int) -> np.ndarray:
    """(k, 2) first and last pixel centre [nm] that each window's area reads: window, bands, offsets.

    ``weights`` (len(pixels), k) are the area weights, or (len(pixels), 3 k + 3) with the offset
    correction's linear and quadratic terms (:meth:`LineWindowFeatures.fit`); a weight counts where
    it is non-zero in float32, as the ONNX graph holds it. A spectrum whose grid stops inside a
    window's footprint gets a flat extrapolation there, and the area is wrong.
    """
    wl = np.asarray(wavelength_nm, dtype=np.float64)
    W = np.asarray(weights).astype(np.float32) != 0.0
    k = int(n_windows)
    out = np.empty((k, 2))
    for j in range(k):
        cols = [j, j + k, j + 2 * k] if W.shape[1] >= 3 * k else [j]
        rows = np.flatnonzero(W[:, cols].any(axis=1))
        out[j] = wl[pixels[rows[0]]], wl[pixels[rows[-1]]]
    return out


class LineWindowFeatures(TransformerMixin, BaseEstimator):
    """Asinh-compressed ratios of line areas, from spectra on a fixed grid.

    For each analyte line ``a`` with nearest same-stage Al reference ``r`` and the summed
    area ``S`` of all windows, the features are::

        asinh((A_a / D_r) / floor)      element to aluminium
        asinh((A_a / D_S) / floor)      element to total line emission
        asinh((A_r / D_S) / floor)      for each reference: aluminium to total emission
        asinh((A_AlII / D_AlI) / floor) Al II / Al I: a thermometer (Saha balance)

    with ``D_r = sqrt(A_r^2 + (soft * S)^2)`` and ``D_S = sqrt(S^2 + tiny^2)``: soft
    denominators, so a piece with no aluminium (steel, brass) gives large but finite
    ratios rather than a division by noise. ``asinh(x)`` is ``log(2x)`` for large x and
    linear near zero, so absent elements (area = noise around 0) stay well behaved.

    Parameters
    ----------
    grid_nm : array_like, shape (p,)
        The model's pixel grid [nm]; input spectra must be on it.
    lines : sequence of FeatureLine, optional
        Default: ``sorter/data/feature_lines.csv``. Lines whose window or background bands
        fall outside the grid are dropped.
    half_width_nm : float, optional
        Half-width added on each side of a line group [nm]. Default: the larger of
        0.2 nm and 1.5 pixel steps, wide enough to hold the line at 0.05-0.15 nm resolution
        and a 0.05 nm wavelength offset, narrow enough to keep neighbours out.
    background_nm : float, optional
        Width of each background band [nm]. Default: the larger of 0.2 nm and 1.5 pixel steps.
    floor : float
        Ratio at which asinh turns from linear to logarithmic.
    soft : float
        Fraction of the total line area added (in quadrature) to Al reference denominators.
    band_search_nm : float
        How far [nm] each background band may move outwards from its window to the stretch with
        the least line emission in the training spectra passed to :meth:`fit`
        (:func:`line_emission`); 0, or :meth:`fit` without spectra, keeps the bands next to the
        window. A band on a neighbour's line or Stark wing (Mn II 256.36 nm beside Al I
        256.80 nm, Al II 281.62 nm beside Cu I 282.44 nm) turns the neighbour's flux into
        "background", and on an undersampled grid that flux moves between pixels with every
        hundredth of a nanometre of wavelength offset, so the composition estimate follows the
        offset; bands on the quietest stretch nearby keep it steady (docs/classifier.md,
        "Background bands").
    max_shift_nm : float
        Largest wavelength offset [nm] of a spectrum that the areas correct for; 0 turns the
        correction off. Each spectrum's offset ``s`` is where the area-weighted centroid of its
        aluminium windows (references and indicators: lines every aluminium piece shows) meets
        the centroids of the training spectra, clipped to +-``max_shift_nm``; every
        window and band then moves by ``s`` (:func:`quadratic_in_shift`). A
        spectrometer drifts with temperature, and an offset moves flux across a window's edge
        into its background bands (Stark wings of a hot, dense plasma reach them), which reads
        as composition, most at the hot edge (docs/classifier.md, "Wavelength offsets"). On
        undersampled lines (pixels wider than the lines) moving the windows adds more error at the
        cool edge than the offset costs there.

    Examples
    --------
    >>> import numpy as np
    >>> wl = np.linspace(250, 300, 2000)
    >>> f = LineWindowFeatures(wl).fit()
    >>> f.transform(np.ones((2, wl.size))).shape[0]
    2
    """

    def __init__(self, grid_nm=None, lines=None, half_width_nm: float | None = None,
                 background_nm: float | None = None, floor: float = 1e-2, soft: float = 1e-3,
                 band_search_nm: float = 2.0, max_shift_nm: float = 0.0):
        self.grid_nm = grid_nm
        self.lines = lines
        self.half_width_nm = half_width_nm
        self.background_nm = background_nm
        self.floor = floor
        self.soft = soft
        self.band_search_nm = band_search_nm
        self.max_shift_nm = max_shift_nm

    def fit(self, X=None, y=None):
        wl = np.asarray(self.grid_nm, dtype=np.float64)
        if wl.ndim != 1 or wl.size < 8 or np.any(np.diff(wl) <= 0):
            raise InputError("LineWindowFeatures: grid_nm must be a strictly increasing 1-D grid of 8+ points")
        if X is not None and np.shape(X)[1] != wl.size:
            raise InputError(f"LineWindowFeatures: X has {np.shape(X)[1]} columns; the grid has {wl.size} pixels")
        step = float(np.median(np.diff(wl)))
        hw = self.half_width_nm if self.half_width_nm is not None else max(0.2, 1.5 * step)
        bg = self.background_nm if self.background_nm is not None else max(0.2, 1.5 * step)
        lines = tuple(self.lines) if self.lines is not None else feature_lines()
        emission = None
        if self.band_search_nm > 0 and X is not None:
            emission = line_emission(wl, X, opening_nm=max(2.0 * (hw + bg), 6 * step))
        windows = []
        for line in lines:
            win = Window(line, line.first_nm - hw, line.last_nm + hw, bg)
            if emission is not None:
                win = quietest_bands(wl, win, emission, self.band_search_nm)
            if win.bands[0][0] >= wl[0] and win.bands[1][1] <= wl[-1]:
                windows.append(win)
        refs = [i for i, w in enumerate(windows) if w.line.is_reference]
        if not refs:
            raise InputError(f"LineWindowFeatures: no Al reference line lies inside the grid "
                             f"{wl[0]:g}-{wl[-1]:g} nm; the model cannot normalise")
        dense = np.stack([area_weights(wl, w) for w in windows], axis=1)
        if self.max_shift_nm < 0:
            raise InputError(f"LineWindowFeatures: max_shift_nm is {self.max_shift_nm}; must be >= 0")
        if self.max_shift_nm > 0:
            shift = self._shift_weights(wl, windows, dense, X)
            used = np.flatnonzero(np.any(dense != 0.0, axis=1) | np.any(shift != 0.0, axis=1))
            self.shift_weights_ = shift[used]
        else:
            used = np.flatnonzero(np.any(dense != 0.0, axis=1))
            self.shift_weights_ = None
        self.windows_ = tuple(windows)
        self.pixels_ = used.astype(np.int64)
        self.weights_ = dense[used]
        self.total_weights_ = self.weights_.sum(axis=1)
        # white pixel noise sigma gives a window area the noise sigma * ||w||: the per-window scale
        self.area_noise_per_sigma_ = np.linalg.norm(self.weights_, axis=0)
        self.reference_of_ = self._nearest_references(windows, refs)
        self.reference_pixels_ = np.flatnonzero(np.any(dense[:, refs] != 0.0, axis=1)).astype(np.int64)
        stages = {1: [i for i in refs if windows[i].line.ion_stage == 1],
                  2: [i for i in refs if windows[i].line.ion_stage == 2]}
        self.thermometer_ = (stages[2][0], stages[1][0]) if stages[1] and stages[2] else None
        self.n_features_in_ = wl.size
        self.step_nm_ = step
        return self

    def footprints_nm(self) -> np.ndarray:
        """(k, 2) first and last grid pixel [nm] each window's area reads (:func:`window_footprints_nm`)."""
        check_is_fitted(self, "weights_")
        W = self.weights_ if self.shift_weights_ is None else np.hstack([self.weights_, self.shift_weights_])
        return window_footprints_nm(self.grid_nm, self.pixels_, W, len(self.windows_))

    def _shift_weights(self, wl: np.ndarray, windows: list[Window], dense: np.ndarray, X) -> np.ndarray:
        """(p, 2 k + 3) pixel weights: the areas' linear and quadratic terms in the offset, then ``u``'s three.

        ``x @ u(s)`` sums, over the aluminium windows moved by ``s``, each line's first moment about
        its window's centre less the window's training centroid times its area: zero where the
        lines sit as they did in training. The offset is the root of its quadratic in ``s``
        (:meth:`_shift`). The training centroid (a line group's is not its nominal centre, and an
        undersampled line's depends on where it falls on its pixel) is the median over the
        spectra passed to :meth:`fit`, whose offsets are symmetric about 0.
        """
        delta = self.max_shift_nm
        al = [i for i, w in enumerate(windows) if w.line.element == "Al"]
        moments = np.stack([moment_weights(wl, windows[i]) for i in al], axis=1)
        centroid = np.zeros(len(al))
        if X is not None:
            X = np.asarray(X)
            rows = X[np.linspace(0, X.shape[0] - 1, min(X.shape[0], 4000)).astype(int)].astype(np.float64)
            area, moment = rows @ dense[:, al], rows @ moments
            for j in range(len(al)):
                strong = area[:, j] > 0.1 * np.quantile(area[:, j], 0.9)
                if strong.any():
                    centroid[j] = float(np.median(moment[strong, j] / area[strong, j]))
        self.shift_centroid_nm_ = centroid
        A = np.stack([quadratic_in_shift(wl, w, area_weights, delta) for w in windows], axis=2)    # (p, 3, k)
        u = sum(quadratic_in_shift(wl, windows[i], moment_weights, delta) - c * A[:, :, i]
                for i, c in zip(al, centroid, strict=True))                                          # (p, 3)
        return np.column_stack([A[:, 1], A[:, 2], u])

    def shift_nm(self, X) -> np.ndarray:
        """Each spectrum's estimated wavelength offset [nm], (n,); zeros when the correction is off."""
        X = self._check(X)
        if self.shift_weights_ is None:
            return np.zeros(X.shape[0])
        px = X[:, self.pixels_]
        return self._shift(px @ self.weights_, px @ self.shift_weights_[:, -3:])

    def _shift(self, A0: np.ndarray, u: np.ndarray) -> np.ndarray:
        """The offset [nm] from ``u``'s terms (n, 3): two Newton steps on u0 + u1 s + u2 s^2 = 0 from s = 0.

        Soft denominators ``d / (d^2 + (soft * total)^2)``: where no aluminium line shows, u1 is
        noise around 0 and the offset stays finite (then clipped to +-``max_shift_nm``).
        """
        eps2 = (self.soft * A0.sum(axis=1)) ** 2 + 1e-24
        u0, u1, u2 = u[:, 0], u[:, 1], u[:, 2]
        s = -u0 * u1 / (u1 ** 2 + eps2)
        slope = u1 + 2.0 * u2 * s
        s = s - (u0 + u1 * s + u2 * s * s) * slope / (slope ** 2 + eps2)
        return np.clip(s, -self.max_shift_nm, self.max_shift_nm)

    @staticmethod
    def _nearest_references(windows: list[Window], refs: list[int]) -> np.ndarray:
        out = np.full(len(windows), -1, dtype=np.int64)
        for i, w in enumerate(windows):
            if w.line.is_reference:
                continue
            same = [r for r in refs if windows[r].line.ion_stage == w.line.ion_stage] or refs
            out[i] = min(same, key=lambda r: abs(windows[r].line.centre_nm - w.line.centre_nm))
        return out

    def _check(self, X) -> np.ndarray:
        check_is_fitted(self, "weights_")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise InputError(f"LineWindowFeatures: expected spectra of shape (n, {self.n_features_in_}) "
                             f"on the model grid, got {X.shape}")
        return X

    def areas(self, X) -> np.ndarray:
        """Baseline-corrected area of each window, shape (n, k) [counts nm]."""
        X = self._check(X)
        px = X[:, self.pixels_]
        A0 = px @ self.weights_
        if self.shift_weights_ is None:
            return A0
        extra = px @ self.shift_weights_
        k = A0.shape[1]
        s = self._shift(A0, extra[:, 2 * k:])[:, None]
        return A0 + s * extra[:, :k] + s * s * extra[:, k:2 * k]

    @property
    def analytes_(self) -> np.ndarray:
        return np.flatnonzero(self.reference_of_ >= 0)

    @property
    def references_(self) -> np.ndarray:
        return np.flatnonzero(self.reference_of_ < 0)

    def features_from_areas(self, A: np.ndarray) -> np.ndarray:
        """The ratio features from window areas (n, k); see the class docstring."""
        total = A.sum(axis=1, keepdims=True)
        d_total = np.sqrt(total ** 2 + 1e-24)
        ref_area = A[:, self.reference_of_[self.analytes_]]
        d_ref = np.sqrt(ref_area ** 2 + (self.soft * total) ** 2)
        an = A[:, self.analytes_]
        parts = [np.arcsinh(an / d_ref / self.floor), np.arcsinh(an / d_total / self.floor),
                 np.arcsinh(A[:, self.references_] / d_total / self.floor)]
        if self.thermometer_ is not None:
            hot, cold = self.thermometer_
            d_cold = np.sqrt(A[:, [cold]] ** 2 + (self.soft * total) ** 2)
            parts.append(np.arcsinh(A[:, [hot]] / d_cold / self.floor))
        return np.concatenate(parts, axis=1)

    def transform(self, X):
        return self.features_from_areas(self.areas(X))

    def feature_elements(self) -> list[str]:
        """The element each feature measures: the analyte's symbol, or "Al" for references and the thermometer."""
        check_is_fitted(self, "weights_")
        el = [self.windows_[a].line.element for a in self.analytes_]
        out = el + el + ["Al"] * self.references_.size
        return out + (["Al"] if self.thermometer_ is not None else [])

    def indicator_features(self) -> np.ndarray:
        """(k,) bool: features whose numerator is an "indicator" line (no composition regression reads them)."""
        check_is_fitted(self, "weights_")
        ind = [self.windows_[a].line.is_indicator for a in self.analytes_]
        out = ind + ind + [False] * self.references_.size
        return np.array(out + ([False] if self.thermometer_ is not None else []), dtype=bool)

    def feature_ion_stages(self) -> list[int]:
        """The ion stage of each feature's numerator line (1 neutral, 2 singly ionised); the thermometer is 2."""
        check_is_fitted(self, "weights_")
        st = [self.windows_[a].line.ion_stage for a in self.analytes_]
        out = st + st + [self.windows_[r].line.ion_stage for r in self.references_]
        return out + ([2] if self.thermometer_ is not None else [])

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "weights_")
        names = [w.line.name for w in self.windows_]
        out = [f"{names[a]}/{names[self.reference_of_[a]]}" for a in self.analytes_]
        out += [f"{names[a]}/total" for a in self.analytes_]
        out += [f"{names[r]}/total" for r in self.references_]
        if self.thermometer_ is not None:
            out.append(f"{names[self.thermometer_[0]]}/{names[self.thermometer_[1]]}")
        return np.array(out, dtype=object)


class NoiseLevel(TransformerMixin, BaseEstimator):
    """Per-spectrum noise standard deviation from second differences at quiet pixels.

    For white noise of standard deviation sigma, ``d = x[i-1] - 2 x[i] + x[i+1]`` has
    standard deviation ``sqrt(6) sigma`` and ``E|d| = sqrt(6) sigma sqrt(2/pi)``, so
    ``sigma = mean|d| / (sqrt(6) sqrt(2/pi))``. The quiet pixels are those where the mean
    training spectrum is flattest (smallest curvature relative to its level), away from lines.

    Parameters
    ----------
    n_pixels : int
        How many quiet pixels to average over.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = 100 + rng.normal(0, 3.0, size=(4, 4000))
    >>> s = NoiseLevel().fit(X).transform(X)
    >>> bool(np.all(np.abs(s - 3.0) < 0.6))
    True
    """

    def __init__(self, n_pixels: int = 128):
        self.n_pixels = n_pixels

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] < 3:
            raise InputError("NoiseLevel: X must be (n, p) with p >= 3")
        mean = X.mean(axis=0)
        curvature = np.abs(mean[:-2] - 2 * mean[1:-1] + mean[2:]) + 1e-3 * np.abs(mean[1:-1])
        n = min(self.n_pixels, curvature.size)
        self.centres_ = np.sort(np.argsort(curvature, kind="stable")[:n] + 1).astype(np.int64)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        check_is_fitted(self, "centres_")
        X = np.asarray(X, dtype=np.float64)
        c = self.centres_
        d2 = X[:, c - 1] - 2.0 * X[:, c] + X[:, c + 1]
        return (np.abs(d2).mean(axis=1) / (np.sqrt(6.0) * np.sqrt(2.0 / np.pi)))[:, None]

    def get_feature_names_out(self, input_features=None):
        return np.array(["noise_sigma"], dtype=object)
