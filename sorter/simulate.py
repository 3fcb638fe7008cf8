"""LIBS spectrum simulator in local thermodynamic equilibrium (the calibration-free LIBS model).

composition [wt%] -> atom fractions -> Saha-Boltzmann populations for each (T_e, n_e) state in
the detector gate -> uniform-slab radiative transfer (self-absorption for every line) plus
Kramers continuum -> instrument Gaussian and pixel integration -> detector (response, Poisson
shot noise, read noise, dark offset, ADC saturation) on a calibrated grid with offset and drift.

Two paths give the same physics:
* :func:`plasma_radiance` evaluates every line and state directly (the reference, used by the
  physics tests);
* :mod:`sorter.fast_synthesis` precomputes profile bases per instrument and forms spectra as
  matrix products, vectorised over a batch (used by :func:`simulate_batch`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from blending.errors import InputError
from sorter.atomic_data import LineList, line_list, species_name
from sorter.batch import SpectrumBatch
from sorter.fast_synthesis import synthesise_counts
from sorter.instruments import Instrument, get_instrument
from sorter.physics import detector
from sorter.physics.boltzmann import level_population
from sorter.physics.continuum import kramers_continuum
from sorter.physics.line_profiles import (
    doppler_fwhm,
    fine_grid,
    gaussian_fwhm_sum,
    lorentz_kept_fraction,
    pixel_gaussian_kernel,
    stark_fwhm,
    thin_window_nm,
    voigt,
    voigt_fwhm,
)
from sorter.physics.radiative_transfer import line_absorption_area, planck_radiance, slab_radiance
from sorter.plasma import (
    SLAB_LENGTH_M,
    PlasmaState,
    StageDensities,
    air_atoms,
    atom_fractions,
    gate_states,
    species_partition,
    stage_densities,
)
from sorter.shots import MISS_ABLATION, ShotPlan, plan_shots
from sorter.spectrum import Metadata, Spectrum

THIN_TAU = 1e-3                 # below this peak optical depth a line is computed optically thin
SUBPIXELS = 7                   # samples per pixel when averaging a thin line over the pixel


@dataclass(frozen=True)
class PlasmaRanges:
    """Ranges the shot-to-shot plasma state is drawn from.

    Parameters
    ----------
    T_e_K : (float, float)
        Gate-averaged electron temperature, drawn uniformly [K].
    n_e_per_cm3 : (float, float)
        Gate-averaged electron density, drawn log-uniformly [cm^-3].
    gate_spread : float
        Relative temperature step between the early, middle and late state in the gate; 0 gives
        a single state [-].
    ablation_sd : float
        Standard deviation of the log of the ablated-mass scale [-].
    air_atoms_per_metal_atom : (float, float)
        Entrained air (N 78%, O 21%, H from humidity) per metal atom, drawn uniformly [-].
    coupling : float
        Correlation of T_e and log n_e across shots, 0 (independent) to 0.99 [-]; see
        :func:`draw_plasma_states`.
    shot_T_rsd, shot_n_e_rsd : float
        Shot-to-shot scatter of T_e and n_e around a piece's own plasma state, as a relative
        standard deviation [-] (used when a piece gets several shots; see :func:`draw_piece_shots`).
    T_sampling : {"uniform", "inverse"}
        Draw T_e uniformly, or uniformly in 1/T_e: Boltzmann factors exp(-E/kT) change fastest
        in a cool plasma, so "inverse" puts more of a training set where the spectra change most.
    """

    T_e_K: tuple[float, float] = (8000.0, 14000.0)
    n_e_per_cm3: tuple[float, float] = (1e16, 1e18)
    gate_spread: float = 0.12
    ablation_sd: float = 0.25
    air_atoms_per_metal_atom: tuple[float, float] = (0.01, 0.06)
    coupling: float = 0.8
    shot_T_rsd: float = 0.03
    shot_n_e_rsd: float = 0.10
    T_sampling: str = "uniform"

    def __post_init__(self):
        lo, hi = self.T_e_K
        if not 2000 <= lo <= hi <= 40000:
            raise InputError(f"plasma T_e_K range {lo:g}-{hi:g} K must be ordered and within 2000-40000 K")
        lo, hi = self.n_e_per_cm3
        if not 1e13 <= lo <= hi <= 1e20:
            raise InputError(f"plasma n_e_per_cm3 range {lo:g}-{hi:g} must be ordered and within 1e13-1e20")
        if not 0 <= self.gate_spread < 0.5:
            raise InputError(f"plasma gate_spread {self.gate_spread:g} must be in [0, 0.5)")
        if self.ablation_sd < 0:
            raise InputError("plasma ablation_sd must be non-negative")
        if not 0 <= self.coupling <= 0.99:
            raise InputError(f"plasma coupling {self.coupling:g} must be between 0 and 0.99")
        if self.T_sampling not in ("uniform", "inverse"):
            raise InputError(f"plasma T_sampling {self.T_sampling!r} must be 'uniform' or 'inverse'")
        if not (0 <= self.shot_T_rsd < 0.5 and 0 <= self.shot_n_e_rsd < 1):
            raise InputError("plasma shot_T_rsd must be in [0, 0.5) and shot_n_e_rsd in [0, 1)")


def line_strengths(lines: LineList, dens: StageDensities, *, exact: bool = False):
    """Lower/upper populations and integrated absorption of each line at one state.

    Returns
    -------
    n_upper, n_lower : ndarray [m^-3]
    k_area : ndarray
        Wavelength-integrated absorption coefficient [m^-1 nm].
    """
    T = dens.T_e_K
    n_stage = np.zeros(len(lines))
    U = np.ones(len(lines))
    for key, value in dens.density.items():
        mask = (lines.element == key[0]) & (lines.ion_stage == key[1])
        if np.any(mask):
            n_stage[mask] = value
            U[mask] = species_partition(species_name(*key), T, exact=exact)
    n_upper = level_population(n_stage, lines.g_k, lines.E_k_eV, U, T)
    n_lower = level_population(n_stage, lines.g_i, lines.E_i_eV, U, T)
    k_area = line_absorption_area(lines.wavelength_nm, lines.A_ki_per_s, lines.g_k, lines.g_i, n_lower, T)
    return n_upper, n_lower, k_area


def plasma_radiance(composition_wt_pct: Mapping[str, float], states: Sequence[PlasmaState],
                    wavelength_nm, *, resolution_fwhm_nm: float, slab_length_m: float = SLAB_LENGTH_M,
                    extra_atoms: Mapping[str, float] | None = None, continuum_scale: float = 1.0,
                    lines: LineList | None = None, thin_tau: float = THIN_TAU) -> np.ndarray:
    """Gate-integrated spectral radiance seen by each pixel, computed line by line (reference path).

    Parameters
    ----------
    composition_wt_pct : mapping
        Element to wt% (Al by balance when absent).
    states : sequence of PlasmaState
        Plasma states in the gate; their ``weight`` sums the radiance.
    wavelength_nm : array_like, shape (p,)
        True wavelength of each pixel centre [nm], strictly increasing.
    resolution_fwhm_nm : float
        Instrument Gaussian FWHM [nm].
    slab_length_m : float
        Depth of the uniform plasma slab [m].
    extra_atoms : mapping, optional
        Entrained air atoms per metal atom, e.g. ``{"N": 0.03, "O": 0.008, "H": 0.001}``.
    continuum_scale : float
        Multiplies the Kramers continuum [-].
    lines : LineList, optional
        Lines to include (default: all in the data file).
    thin_tau : float
        Lines whose peak optical depth is below this are computed thin [-].

    Returns
    -------
    radiance : ndarray, shape (p,)
        Mean spectral radiance over each pixel [W m^-2 sr^-1 nm^-1].

    Notes
    -----
    Each line: I(lambda) = B_lambda(T) (1 - exp(-k L phi(lambda))) on a fine local grid with the
    intrinsic Voigt phi (Doppler, Stark), then convolved with the instrument Gaussian and the pixel
    box; optically thin lines use B k L phi directly with the Gaussians combined. Profiles are cut
    at 5 Voigt or 25 Lorentzian FWHM (8 nm at most) and renormalised to unit area. The source
    function B is taken at the line centre across the whole profile. Overlapping lines add their
    radiances (mutual absorption between different lines is neglected).
    """
    wl = np.asarray(wavelength_nm, dtype=float)
    width = detector.pixel_widths(wl)
    lines = line_list() if lines is None else lines
    lines = lines.in_range(wl[0] - 8.0, wl[-1] + 8.0)
    fractions = atom_fractions(composition_wt_pct, extra_atoms)
    out = np.zeros_like(wl)
    sub = (np.arange(SUBPIXELS) + 0.5) / SUBPIXELS - 0.5
    px = float(np.median(width))
    sigma_eff = np.sqrt((resolution_fwhm_nm / 2.3548) ** 2 + px ** 2 / 12.0)
    for state in states:
        dens = stage_densities(fractions, state, exact=True)
        T = state.T_e_K
        _, _, k_area = line_strengths(lines, dens, exact=True)
        kL = k_area * slab_length_m
        g_intr = doppler_fwhm(lines.wavelength_nm, T, lines.mass_u)
        l_fwhm = stark_fwhm(lines.stark_fwhm_nm, state.n_e_per_cm3)
        peak = voigt(0.0, 0.0, g_intr, l_fwhm)
        B0 = planck_radiance(lines.wavelength_nm, T)
        g_tot = gaussian_fwhm_sum(g_intr, resolution_fwhm_nm)
        half_thin = thin_window_nm(l_fwhm, voigt_fwhm(g_tot, l_fwhm), px)
        half_intr = thin_window_nm(l_fwhm, voigt_fwhm(g_intr, l_fwhm), px)
        kept_intr = lorentz_kept_fraction(l_fwhm, half_intr)
        tau0 = kL * peak / kept_intr
        rad = np.zeros_like(wl)
        for j in np.flatnonzero(kL > 0):
            lam0 = lines.wavelength_nm[j]
            if tau0[j] < thin_tau:
                half = half_thin[j]
                lo, hi = np.searchsorted(wl, [lam0 - half, lam0 + half])
                if hi <= lo:
                    continue
                x = wl[lo:hi, None] + sub[None, :] * width[lo:hi, None]
                prof = voigt(x, lam0, g_tot[j], l_fwhm[j]).mean(axis=1)
                rad[lo:hi] += B0[j] * kL[j] * prof / lorentz_kept_fraction(l_fwhm[j], half)
            else:
                half = half_intr[j]
                # fine sampling where tau > 0.01; beyond, the line is thin and smooth, and cells grow
                # geometrically, each blurred by its own width (a cell-averaged source)
                x_c = min(_tau_edge_nm(tau0[j], g_intr[j], l_fwhm[j], 0.01), half)
                x = fine_grid(0.2 * voigt_fwhm(g_intr[j], l_fwhm[j]), half, sigma_eff / 3.0, growth=1.05,
                              fine_until=x_c, wing_growth=1.1)
                cell = np.gradient(x)
                tau = kL[j] * voigt(x, 0.0, g_intr[j], l_fwhm[j]) / kept_intr[j]
                i_f = slab_radiance(B0[j], tau)
                reach = half + 5.0 * resolution_fwhm_nm + 2.0 * px
                lo, hi = np.searchsorted(wl, [lam0 - reach, lam0 + reach])
                blur = np.sqrt(resolution_fwhm_nm ** 2 + (0.68 * cell) ** 2)
                kern = pixel_gaussian_kernel(wl[lo:hi, None] - lam0 - x[None, :], blur[None, :], width[lo:hi, None])
                rad[lo:hi] += kern @ (cell * i_f)
        rad += continuum_scale * kramers_continuum(wl, T, dens.n_e_per_m3, dens.sum_z2_n_ion_per_m3) * slab_length_m
        out += state.weight * rad
    return out


def _tau_edge_nm(tau0: float, gauss_fwhm: float, lorentz_fwhm: float, tau_edge: float) -> float:
    """Distance from line centre where the optical depth falls to ``tau_edge`` [nm] (Gaussian core or Lorentz wing)."""
    sigma = gauss_fwhm / 2.3548
    x_g = sigma * np.sqrt(2.0 * np.log(max(tau0 / tau_edge, 1.0)))
    x_l = 0.5 * lorentz_fwhm * np.sqrt(max(tau0 / tau_edge, 1.0))
    return float(max(x_g, x_l)) * 1.2 + 1e-4


@dataclass(frozen=True)
class ShotConditions:
    """What varies from one laser shot to the next (all drawn by :func:`draw_shot`)."""

    T_e_K: float
    n_e_per_cm3: float
    ablation_scale: float
    air_atoms_per_metal_atom: float
    offset_nm: float


def draw_shot(rng: np.random.Generator, instrument: Instrument, plasma: PlasmaRanges,
              wavelength_offset_nm: tuple[float, float] | float | None = None) -> ShotConditions:
    """Random plasma state, ablation, air entrainment and wavelength offset of one shot."""
    return draw_shots(rng, instrument, plasma, 1, wavelength_offset_nm)[0]


def draw_piece_shots(rng: np.random.Generator, instrument: Instrument, plasma: PlasmaRanges, n: int,
                     wavelength_offset_nm: float) -> list[ShotConditions]:
    """The ``n`` shots fired at one piece: one plasma state for the piece, scattered shot to shot.

    Notes
    -----
    What sets the plasma state across a sorting line (the piece's distance from the focus,
    its tilt, surface and thickness) is fixed for one piece, so its shots share a state
    (T_e, n_e) drawn by :func:`draw_plasma_states`; each shot scatters around it log-normally
    with ``plasma.shot_T_rsd`` and ``plasma.shot_n_e_rsd`` (a few percent in T_e and about
    10% in n_e shot to shot at fixed focus: Castle et al. 1998, Spectrochim. Acta B 53, 1299;
    Aguilera et al. 2003, Spectrochim. Acta B 58, 221). Ablated mass, air entrainment and the
    wavelength drift vary freely from shot to shot.
    """
    T0, ne0 = draw_plasma_states(rng, plasma, 1)
    T = T0[0] * np.exp(rng.normal(0.0, plasma.shot_T_rsd, n))
    ne = ne0[0] * np.exp(rng.normal(0.0, plasma.shot_n_e_rsd, n))
    return _shot_conditions(rng, instrument, plasma, T, ne, float(wavelength_offset_nm))


def draw_plasma_states(rng: np.random.Generator, plasma: PlasmaRanges, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gate-averaged (T_e [K], n_e [cm^-3]) of ``n`` shots.

    Notes
    -----
    T_e is uniform (or uniform in 1/T_e, ``plasma.T_sampling``) and n_e log-uniform over their
    ranges, tied by a Gaussian copula with correlation ``plasma.coupling``: a plasma observed
    early is both hot and dense, one observed late cool and dilute. Independent draws (coupling
    0) pair 8,000 K with 1e18 cm^-3, which Saha balance can only meet with 1e19-1e20 cm^-3 of
    mostly neutral atoms: far denser than a laser plasma in air.
    """
    z1 = rng.standard_normal(n)
    z2 = plasma.coupling * z1 + np.sqrt(1.0 - plasma.coupling ** 2) * rng.standard_normal(n)
    u1, u2 = _normal_cdf(z1), _normal_cdf(z2)
    lo, hi = plasma.T_e_K
    T = lo + (hi - lo) * u1 if plasma.T_sampling == "uniform" else 1.0 / (1.0 / lo - (1.0 / lo - 1.0 / hi) * u1)
    log_lo, log_hi = np.log(plasma.n_e_per_cm3)
    return T, np.exp(log_lo + (log_hi - log_lo) * u2)


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr

    return ndtr(z)


def draw_shots(rng: np.random.Generator, instrument: Instrument, plasma: PlasmaRanges, n: int,
               wavelength_offset_nm: tuple[float, float] | float | None = None) -> list[ShotConditions]:
    """``n`` shots: plasma state (:func:`draw_plasma_states`), ablation, air and wavelength offset."""
    T, ne = draw_plasma_states(rng, plasma, n)
    return _shot_conditions(rng, instrument, plasma, T, ne, wavelength_offset_nm)


def _shot_conditions(rng: np.random.Generator, instrument: Instrument, plasma: PlasmaRanges, T: np.ndarray,
                     ne: np.ndarray, wavelength_offset_nm: tuple[float, float] | float | None) -> list[ShotConditions]:
    """Shots at the plasma states (T, ne), each with its own ablation, air, offset and drift."""
    n = len(T)
    abl = np.exp(rng.normal(0.0, plasma.ablation_sd, n))
    air = rng.uniform(*plasma.air_atoms_per_metal_atom, n)
    if wavelength_offset_nm is None:
        base = np.full(n, instrument.wavelength_offset_nm)
    elif np.ndim(wavelength_offset_nm) == 0:
        base = np.full(n, float(wavelength_offset_nm))
    else:
        base = rng.uniform(*wavelength_offset_nm, n)
    off = base + rng.normal(0.0, instrument.wavelength_drift_sd_nm, n) if instrument.wavelength_drift_sd_nm else base
    return [ShotConditions(*map(float, v)) for v in zip(T, ne, abl, air, off, strict=True)]


def detect(radiance, instrument: Instrument, rng: np.random.Generator, *, ablation_scale: float = 1.0,
           noise_scale: float = 1.0) -> np.ndarray:
    """Counts per pixel for a radiance on the instrument's pixels (response, area, noise, ADC).

    The emitting area grows as the ablated mass to the 2/3 power.
    """
    wl = instrument.wavelength_nm
    electrons = detector.expected_photoelectrons(
        radiance, instrument.response(wl), detector.pixel_widths(wl),
        instrument.throughput_e_per_radiance_nm * ablation_scale ** (2.0 / 3.0))
    return detector.read_out(electrons, rng, gain=instrument.gain_counts_per_e,
                             read_noise=instrument.read_noise_counts, dark=instrument.dark_counts,
                             adc_max=instrument.adc_max_counts, noise_scale=noise_scale)


def shot_radiance(composition_wt_pct: Mapping[str, float], instrument: Instrument, shot: ShotConditions,
                  plasma: PlasmaRanges) -> np.ndarray:
    """Noise-free radiance on the instrument pixels for one shot (reference path)."""
    true_wl = instrument.wavelength_nm - shot.offset_nm
    return plasma_radiance(composition_wt_pct, gate_states(shot.T_e_K, shot.n_e_per_cm3, plasma.gate_spread),
                           true_wl, resolution_fwhm_nm=instrument.resolution_fwhm_nm,
                           slab_length_m=SLAB_LENGTH_M * shot.ablation_scale ** (1.0 / 3.0),
                           extra_atoms=air_atoms(shot.air_atoms_per_metal_atom),
                           continuum_scale=instrument.continuum_scale)


def simulate_spectrum(composition_wt_pct: Mapping[str, float], instrument: str | Instrument,
                      rng: np.random.Generator, *, plasma: PlasmaRanges | None = None, noise_scale: float = 1.0,
                      wavelength_offset_nm: tuple[float, float] | float | None = None,
                      shot: ShotConditions | None = None) -> Spectrum:
    """One single-shot LIBS spectrum of a composition (reference, line-by-line path).

    Parameters
    ----------
    composition_wt_pct : mapping
        Element to wt% (Al by balance when absent).
    instrument : str or Instrument
        ``"broadband"``, ``"highres"`` or any :class:`~sorter.instruments.Instrument`.
    rng : numpy.random.Generator
    plasma : PlasmaRanges, optional
        Where the shot's plasma state is drawn from (default 8,000-14,000 K, 1e16-1e18 cm^-3).
    noise_scale : float
        Detector noise multiplier; 0 gives the expected counts.
    wavelength_offset_nm : float or (float, float), optional
        Fixed offset, or a range to draw it from, replacing the instrument's own [nm].
    shot : ShotConditions, optional
        Use these conditions instead of drawing them.

    Returns
    -------
    Spectrum
        Counts on the instrument's calibrated grid; ``metadata.extra`` holds the drawn
        ``T_e_K``, ``n_e_per_cm3``, ``ablation_scale`` and ``offset_nm``.
    """
    inst = get_instrument(instrument)
    plasma = plasma or PlasmaRanges()
    shot = shot or draw_shot(rng, inst, plasma, wavelength_offset_nm)
    rad = shot_radiance(composition_wt_pct, inst, shot, plasma)
    counts = detect(rad, inst, rng, ablation_scale=shot.ablation_scale, noise_scale=noise_scale)
    extra = {"T_e_K": f"{shot.T_e_K:.1f}", "n_e_per_cm3": f"{shot.n_e_per_cm3:.4g}",
             "ablation_scale": f"{shot.ablation_scale:.4f}", "offset_nm": f"{shot.offset_nm:.5f}"}
    return Spectrum(inst.wavelength_nm, counts, Metadata(instrument=inst.name, shots=1, extra=extra))


def simulate_batch(grades: Sequence[str], n_per_grade: int, instrument: str | Instrument, seed: int, *,
                   plasma: PlasmaRanges | None = None, noise_scale: float = 1.0,
                   wavelength_offset_nm: tuple[float, float] | float | None = None,
                   compositions: Sequence[Mapping[str, float]] | None = None,
                   shot_plan: ShotPlan | None = None, progress=None) -> SpectrumBatch:
    """Simulated single-shot spectra of catalogue grades and contaminants, with ground truth.

    Parameters
    ----------
    grades : sequence of str
        Names from :func:`sorter.grades.list_grades` (catalogue alloys such as ``"5182"``,
        ``"A356.2"``, and ``"copper"``, ``"brass"``, ``"zinc_diecast"``, ``"steel"``,
        ``"stainless"``, ``"lead"``).
    n_per_grade : int
        Spectra per grade (> 0); each has its own composition drawn within the grade's limits.
    instrument : str or Instrument
        ``"broadband"``, ``"highres"`` or a programmatic :class:`~sorter.instruments.Instrument`
        (another range, pixel count, resolution, response, noise, ``continuum_scale``).
    seed : int
        Everything is reproducible from it.
    plasma : PlasmaRanges, optional
        Ranges of T_e, n_e, gate spread, ablation and air entrainment; give ranges outside the
        training ones for out-of-distribution tests.
    noise_scale : float
        Multiplies detector shot and read noise (1 physical, 0 noiseless).
    wavelength_offset_nm : float or (float, float), optional
        Wavelength-scale offset, fixed or drawn per spectrum (e.g. ``(-0.05, 0.05)``), replacing
        the instrument's systematic offset; its drift still applies.
    compositions : sequence of mapping, optional
        Use these compositions (one per grade entry, repeated ``n_per_grade`` times) instead of
        sampling them.
    shot_plan : ShotPlan, optional
        Shots per piece, cleaning shots, surface layer (lacquer, paint, oxide), coverage and miss
        rate (:mod:`sorter.shots`); each returned spectrum is then the mean of the shots after
        cleaning. Default: one clean shot on bare metal.
    progress : callable, optional
        Called with the number of shots synthesised so far (after each chunk).

    Returns
    -------
    SpectrumBatch
        ``labels`` the grade names; ``composition_wt_pct`` the bulk metal with Al explicit;
        ``meta`` with ``seed``, ``shots`` (shots averaged), ``T_e_K``, ``n_e_per_cm3``,
        ``ablation_scale``, ``offset_nm`` (the applied offset), ``surface_fraction`` (mean layer
        share of the averaged shots) and ``missed_shots`` (count), averaged over the shots kept.

    Examples
    --------
    >>> batch = simulate_batch(["5182", "brass"], 2, "highres", seed=0)
    >>> batch.intensity.shape
    (4, 2048)
    """
    from sorter.grades import resolve_grade, sample_compositions

    if n_per_grade <= 0:
        raise InputError(f"n: {n_per_grade} spectra per grade must be positive", field="n")
    if not grades:
        raise InputError("grades: give at least one grade", field="grades")
    if noise_scale < 0:
        raise InputError(f"noise_scale: {noise_scale:g} must be non-negative", field="noise_scale")
    names = [resolve_grade(g) for g in grades]
    inst = get_instrument(instrument)
    plasma = plasma or PlasmaRanges()
    rng = np.random.default_rng(seed)
    comps, labels = [], []
    for gi, name in enumerate(names):
        if compositions is not None:
            drawn = [dict(compositions[gi]) for _ in range(n_per_grade)]
        else:
            drawn = sample_compositions(name, n_per_grade, rng)
        for comp in drawn:
            if "Al" not in comp:
                comp["Al"] = max(0.0, 100.0 - sum(comp.values()))
            comps.append(comp)
            labels.append(name)
    plan = shot_plan or ShotPlan()
    n = len(comps)
    shot_comps, shots, surface, missed = [], [], [], []
    if plan.total_shots == 1 and plan.surface is None and plan.miss_rate == 0:
        shot_comps, shots = comps, draw_shots(rng, inst, plasma, n, wavelength_offset_nm)
        surface, missed = np.zeros(n), np.zeros(n, dtype=bool)
    else:
        for comp in comps:
            c_list, fr, miss = plan_shots(comp, plan, rng)
            base = _piece_offset(rng, inst, wavelength_offset_nm)
            for sc, m in zip(draw_piece_shots(rng, inst, plasma, plan.total_shots, base), miss, strict=True):
                shots.append(replace(sc, ablation_scale=sc.ablation_scale * (MISS_ABLATION if m else 1.0)))
            shot_comps += c_list
            surface.append(fr)
            missed.append(miss)
        surface, missed = np.concatenate(surface), np.concatenate(missed)
    averaged = len(shots) != n  # average the shots after cleaning, piece by piece
    keep = np.arange(plan.total_shots) >= plan.cleaning_shots
    counts, applied = synthesise_counts(shot_comps, shots, inst, plasma, rng, noise_scale=noise_scale,
                                        progress=progress, average=keep if averaged else None)
    per_shot = {"T_e_K": np.array([s.T_e_K for s in shots]),
                "n_e_per_cm3": np.array([s.n_e_per_cm3 for s in shots]),
                "ablation_scale": np.array([s.ablation_scale for s in shots]),
                "offset_nm": applied, "surface_fraction": surface, "missed_shots": missed.astype(float)}
    if averaged:
        for key, values in per_shot.items():
            values = values.reshape(n, plan.total_shots)[:, keep]
            per_shot[key] = values.sum(axis=1) if key == "missed_shots" else values.mean(axis=1)
    elems = sorted({e for c in comps for e in c}, key=_element_order)
    matrix = np.array([[c.get(e, 0.0) for e in elems] for c in comps])
    meta = {"seed": np.full(n, seed), "shots": np.full(n, plan.n_shots), **per_shot}
    return SpectrumBatch(inst.wavelength_nm, counts, np.array(labels), tuple(elems), matrix, inst.name, meta)


def _piece_offset(rng: np.random.Generator, instrument: Instrument,
                  wavelength_offset_nm: tuple[float, float] | float | None) -> float:
    """Systematic wavelength offset of one piece's shots [nm] (the drift is added per shot)."""
    if wavelength_offset_nm is None:
        return instrument.wavelength_offset_nm
    if np.ndim(wavelength_offset_nm) == 0:
        return float(wavelength_offset_nm)
    return float(rng.uniform(*wavelength_offset_nm))


def _element_order(symbol: str) -> int:
    from blending.catalogue.composition import elements

    return elements()[symbol].atomic_number


def simulate_piece_shots(composition_wt_pct: Mapping[str, float], instrument: str | Instrument, seed: int,
                         shot_plan: ShotPlan, *, plasma: PlasmaRanges | None = None, noise_scale: float = 1.0,
                         wavelength_offset_nm: tuple[float, float] | float | None = None,
                         label: str = "") -> SpectrumBatch:
    """Every shot on one piece, cleaning shots included, in firing order.

    Parameters
    ----------
    composition_wt_pct : mapping
        Bulk metal composition [wt%].
    instrument, seed, plasma, noise_scale, wavelength_offset_nm
        As in :func:`simulate_batch`.
    shot_plan : ShotPlan
        Shots, cleaning shots, surface layer, coverage, miss rate.
    label : str
        Label given to every shot (e.g. the grade).

    Returns
    -------
    SpectrumBatch
        One row per shot; ``meta`` has ``shot`` (index), ``cleaning`` (1 for a cleaning shot),
        ``surface_fraction``, ``missed``, ``T_e_K``, ``n_e_per_cm3``, ``ablation_scale``, ``offset_nm``.
    """
    inst = get_instrument(instrument)
    plasma = plasma or PlasmaRanges()
    rng = np.random.default_rng(seed)
    comp = dict(composition_wt_pct)
    if "Al" not in comp:
        comp["Al"] = max(0.0, 100.0 - sum(comp.values()))
    comps, fractions, missed = plan_shots(comp, shot_plan, rng)
    base = _piece_offset(rng, inst, wavelength_offset_nm)
    shots = [replace(s, ablation_scale=s.ablation_scale * (MISS_ABLATION if m else 1.0))
             for s, m in zip(draw_piece_shots(rng, inst, plasma, shot_plan.total_shots, base), missed, strict=True)]
    counts, applied = synthesise_counts(comps, shots, inst, plasma, rng, noise_scale=noise_scale)
    n = shot_plan.total_shots
    elems = sorted(comp, key=_element_order)
    meta = {"shot": np.arange(n), "cleaning": (np.arange(n) < shot_plan.cleaning_shots).astype(int),
            "surface_fraction": fractions, "missed": missed.astype(int),
            "T_e_K": np.array([s.T_e_K for s in shots]), "n_e_per_cm3": np.array([s.n_e_per_cm3 for s in shots]),
            "ablation_scale": np.array([s.ablation_scale for s in shots]), "offset_nm": applied}
    matrix = np.tile([comp[e] for e in elems], (n, 1))
    return SpectrumBatch(inst.wavelength_nm, counts, np.full(n, label), tuple(elems), matrix, inst.name, meta)
