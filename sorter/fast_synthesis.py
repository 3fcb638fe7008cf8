"""Batch synthesis of LIBS spectra as matrix products (the fast path of :mod:`sorter.simulate`).

The physics is that of :func:`sorter.simulate.plasma_radiance`; what changes is how it is
evaluated, vectorised over a batch:

* plasma: Saha balance, quasi-neutrality and Boltzmann factors for all spectra and gate states
  at once (partition functions from a 50 K table);
* optically thin emission: the flux of every line in each gate state times a precomputed
  profile matrix (lines x pixels, sparse) for the state's electron density and the spectrum's
  wavelength offset, both taken at the nearest node (n_e every 0.05 dex, offset every fifth of
  the instrument's effective Gaussian sigma; the applied offset is reported). Lines with a peak
  optical depth below 1 keep this thin shape, scaled by their curve of growth;
* self-absorption: for lines whose peak optical depth reaches ``DEFICIT_TAU`` anywhere in the
  batch, the thin emission is corrected by the slab deficit B (tau - 1 + exp(-tau)) per state,
  evaluated on a local fine grid and convolved with the instrument and pixel response. This is
  exactly the uniform-slab result B (1 - exp(-tau));
* continuum: Kramers emission from a table of spectral shapes every 100 K;
* detector: Gaussian approximation of Poisson shot noise above 10 photoelectrons (exact Poisson
  below), read noise, dark offset, ADC saturation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.special import erfcx

from blending.catalogue.composition import elements
from blending.errors import InputError
from sorter.atomic_data import LineList, ionisation_energies, line_list, species_name
from sorter.instruments import Instrument
from sorter.physics import detector
from sorter.physics.constants import HC_EV_NM, K_B_EV
from sorter.physics.continuum import kramers_continuum
from sorter.physics.line_profiles import (
    FWHM_PER_SIGMA,
    doppler_fwhm,
    fine_grid,
    gaussian_fwhm_sum,
    lorentz_kept_fraction,
    pixel_gaussian_kernel,
    thin_window_nm,
    voigt,
    voigt_fwhm,
)
from sorter.physics.radiative_transfer import curve_of_growth, line_absorption_area, planck_radiance
from sorter.physics.saha import stage_fractions
from sorter.plasma import SLAB_LENGTH_M, air_atoms, atom_fractions, gate_states, n_stages, species_partition

NE_NODE_DEX = 0.05          # spacing of the electron-density nodes [dex]
OFFSET_NODES_PER_SIGMA = 5  # wavelength-offset nodes per effective instrument sigma (Gaussian + pixel)
T_PROFILE_K = 11000.0       # temperature of the Doppler part of precomputed profiles [K]
STRONG_TAU = 1.0            # peak optical depth from which a line is computed as a full slab [-]
CONTINUUM_T_STEP_K = 100.0
DOPPLER_T_STEP_K = 1000.0   # temperature nodes of the Doppler width in self-absorbed line shapes [K]
GAUSSIAN_NOISE_FROM = 10.0  # photoelectrons above which shot noise is drawn as a Gaussian
SUBPIXELS = 5
MAX_CACHED_MATRICES = 400


def _ne_node(n_e_per_cm3) -> np.ndarray:
    return np.rint(np.log10(n_e_per_cm3) / NE_NODE_DEX).astype(int)


@dataclass
class _InstrumentModel:
    """What the fast path precomputes for one instrument (cached)."""

    instrument: Instrument
    lines: LineList
    wl: np.ndarray
    width: np.ndarray
    offset_step_nm: float
    gauss_fwhm: np.ndarray           # per line: instrument plus Doppler at T_PROFILE_K [nm]
    flux_const: np.ndarray           # h c / (4 pi lambda) A g_k [W m sr^-1] per unit n_stage exp(-E_k/kT)/U
    absorption_const: np.ndarray     # lambda^4 / (8 pi c) (g_k / g_i) A 1e9 [m^2 nm]: k_area per lower-level density
    gauss_peak_per_sqrt_t: np.ndarray  # Doppler-only peak of the profile times sqrt(T) [nm^-1 K^1/2]
    species: list[tuple[str, int]]
    line_species: np.ndarray
    matrices: dict = field(default_factory=dict)
    continuum: dict = field(default_factory=dict)
    grids: dict = field(default_factory=dict)

    @classmethod
    def build(cls, instrument: Instrument) -> _InstrumentModel:
        wl = instrument.wavelength_nm
        lines = line_list().in_range(wl[0] - 8.0, wl[-1] + 8.0)
        width = detector.pixel_widths(wl)
        sigma_eff = np.sqrt((instrument.resolution_fwhm_nm / FWHM_PER_SIGMA) ** 2 + np.median(width) ** 2 / 12)
        gauss = gaussian_fwhm_sum(instrument.resolution_fwhm_nm,
                                  doppler_fwhm(lines.wavelength_nm, T_PROFILE_K, lines.mass_u))
        h, c = 6.62607015e-34, 299792458.0
        flux_const = h * c / (4 * np.pi * lines.wavelength_nm * 1e-9) * lines.A_ki_per_s * lines.g_k
        species = sorted({(str(e), int(z)) for e, z in zip(lines.element, lines.ion_stage, strict=True)})
        index = {s: i for i, s in enumerate(species)}
        line_species = np.array([index[(str(e), int(z))] for e, z in zip(lines.element, lines.ion_stage,
                                                                           strict=True)], dtype=int)
        absorption_const = line_absorption_area(lines.wavelength_nm, lines.A_ki_per_s, lines.g_k, lines.g_i, 1.0,
                                                1.0)  # T -> 0: no stimulated emission
        dop_1k = doppler_fwhm(lines.wavelength_nm, 1.0, lines.mass_u) / FWHM_PER_SIGMA
        gauss_peak = 1.0 / (dop_1k * np.sqrt(2.0 * np.pi))
        return cls(instrument, lines, wl, width, float(sigma_eff / OFFSET_NODES_PER_SIGMA), gauss, flux_const,
                   absorption_const,
                   gauss_peak, species, line_species)

    # --- thin-line profile matrices -------------------------------------------------------
    def profile_matrix(self, k: int, j: int) -> sp.csr_matrix:
        """Pixels x lines matrix of pixel-averaged Voigt profiles [nm^-1] at n_e node k, offset node j."""
        key = (k, j)
        if key in self.matrices:
            return self.matrices[key]
        ne = 10.0 ** (k * NE_NODE_DEX)
        offset = j * self.offset_step_nm
        lam = self.lines.wavelength_nm + offset
        lor = self.lines.stark_fwhm_nm * ne / 1e17
        fw = voigt_fwhm(self.gauss_fwhm, lor)
        px = float(np.median(self.width))
        half = thin_window_nm(lor, fw, px)
        lo = np.searchsorted(self.wl, lam - half)
        hi = np.searchsorted(self.wl, lam + half)
        counts = np.maximum(hi - lo, 0)
        rows = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)]) if counts.sum() else \
            np.zeros(0, dtype=int)
        cols = np.repeat(np.arange(len(lam)), counts)
        sub = (np.arange(SUBPIXELS) + 0.5) / SUBPIXELS - 0.5
        x = self.wl[rows][:, None] + sub[None, :] * self.width[rows][:, None] - lam[cols][:, None]
        vals = voigt(x, 0.0, self.gauss_fwhm[cols][:, None], lor[cols][:, None]).mean(axis=1)
        # the profile is cut at the window and renormalised to unit area
        vals /= lorentz_kept_fraction(lor, half)[cols]
        mat = sp.csr_matrix((vals, (rows, cols)), shape=(self.wl.size, len(lam)))
        if len(self.matrices) >= MAX_CACHED_MATRICES:
            self.matrices.pop(next(iter(self.matrices)))
        self.matrices[key] = mat
        return mat

    def continuum_shape(self, t_node: int) -> np.ndarray:
        """Kramers spectral shape per unit n_e sum(z^2 n_i) at T = t_node x 100 K [per m^-6]."""
        if t_node not in self.continuum:
            self.continuum[t_node] = kramers_continuum(self.wl, t_node * CONTINUUM_T_STEP_K, 1.0, 1.0)
        return self.continuum[t_node]


_MODELS: dict[Instrument, _InstrumentModel] = {}


def instrument_model(instrument: Instrument) -> _InstrumentModel:
    if instrument not in _MODELS:
        _MODELS[instrument] = _InstrumentModel.build(instrument)
    return _MODELS[instrument]


@dataclass
class _GateRows:
    """Per (spectrum, gate state) arrays, row r belongs to spectrum ``spectrum[r]``."""

    spectrum: np.ndarray
    T: np.ndarray
    ne_cm3: np.ndarray
    weight: np.ndarray
    slab_m: np.ndarray
    stage_density: np.ndarray       # rows x species [m^-3]
    partition: np.ndarray           # rows x species
    z2: np.ndarray                  # sum z^2 n_ion [m^-3]


def _gate_rows(compositions: Sequence[Mapping[str, float]], shots, plasma, model: _InstrumentModel) -> _GateRows:
    fracs = [atom_fractions(c, air_atoms(s.air_atoms_per_metal_atom)) for c, s in zip(compositions, shots,
                                                                                         strict=True)]
    els = sorted({e for f in fracs for e in f}, key=lambda e: elements()[e].atomic_number)
    X = np.array([[f.get(e, 0.0) for e in els] for f in fracs])
    spec, T, ne, w, slab = [], [], [], [], []
    for i, s in enumerate(shots):
        for st in gate_states(s.T_e_K, s.n_e_per_cm3, plasma.gate_spread):
            spec.append(i)
            T.append(st.T_e_K)
            ne.append(st.n_e_per_cm3)
            w.append(st.weight)
            slab.append(SLAB_LENGTH_M * s.ablation_scale ** (1.0 / 3.0))
    spec = np.array(spec)
    T = np.array(T)
    ne = np.array(ne)
    ne_m3 = ne * 1e6
    ie = ionisation_energies()
    charge = np.zeros(T.size)
    fz_by_el = {}
    U_by_species = {}
    for ei, el in enumerate(els):
        nz = n_stages(el)
        U = [species_partition(species_name(el, z), T) for z in range(1, nz + 1)]
        for z in range(1, nz + 1):
            U_by_species[(el, z)] = U[z - 1]
        fz = stage_fractions(T, ne_m3, U, [ie[species_name(el, z)] for z in range(1, nz)])
        fz_by_el[el] = fz
        charge += X[spec, ei] * sum(z * fz[z] for z in range(nz))
    heavy = ne_m3 / np.maximum(charge, 1e-12)
    dens = np.zeros((T.size, len(model.species)))
    part = np.ones((T.size, len(model.species)))
    z2 = np.zeros(T.size)
    for ei, el in enumerate(els):
        fz = fz_by_el[el]
        for z in range(len(fz)):
            z2 += z * z * heavy * X[spec, ei] * fz[z]
    for si, (el, z) in enumerate(model.species):
        if el in fz_by_el and z <= len(fz_by_el[el]):
            dens[:, si] = heavy * X[spec, els.index(el)] * fz_by_el[el][z - 1]
            part[:, si] = U_by_species[(el, z)]
        elif el not in fz_by_el:
            part[:, si] = species_partition(species_name(el, z), T)
    return _GateRows(spec, T, ne, np.array(w), np.array(slab), dens, part, z2)


def plasma_radiance_batch(compositions: Sequence[Mapping[str, float]], shots, instrument: Instrument, plasma,
                          *, with_continuum: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free radiance on the instrument pixels for each spectrum, and the offsets applied.

    Parameters
    ----------
    compositions : sequence of mapping
        Element to wt% for each spectrum.
    shots : sequence of ShotConditions
        Plasma state, ablation, air and wavelength offset of each spectrum.
    instrument : Instrument
    plasma : PlasmaRanges
        Supplies ``gate_spread``.

    Returns
    -------
    radiance : ndarray, shape (n, pixels)
        Mean spectral radiance over each pixel [W m^-2 sr^-1 nm^-1].
    offset_nm : ndarray, shape (n,)
        Wavelength offset applied (the shot's, rounded to the offset node) [nm].
    """
    model = instrument_model(instrument)
    n = len(compositions)
    rows = _gate_rows(compositions, shots, plasma, model)
    lines = model.lines
    beta = 1.0 / (K_B_EV * rows.T)
    n_over_u = rows.stage_density / rows.partition          # rows x species [m^-3]
    # gate-integrated thin flux of each line: (h c / 4 pi lambda) A n_k L  [W m^-2 sr^-1]
    flux = np.exp(-np.multiply.outer(beta, lines.E_k_eV))
    flux *= n_over_u[:, model.line_species]
    flux *= model.flux_const
    flux *= (rows.weight * rows.slab_m)[:, None]
    strong_rows = _self_absorption(flux, rows, model, n_over_u, beta)
    n_states = rows.T.size // n
    offsets = np.array([s.offset_nm for s in shots])
    j_node = np.rint(offsets / model.offset_step_nm).astype(int)
    # each gate state gets the profile of its own n_e node; states of one spectrum never share a
    # node (they are 0.26 dex apart), so within a group every spectrum appears once
    k_row = _ne_node(rows.ne_cm3)
    j_row = j_node[rows.spectrum]
    out = np.zeros((n, model.wl.size))
    key_row = k_row * 100003 + j_row
    order = np.argsort(key_row, kind="stable")
    bounds = np.flatnonzero(np.diff(key_row[order])) + 1
    for grp in np.split(order, bounds):
        mat = model.profile_matrix(int(k_row[grp[0]]), int(j_row[grp[0]]))
        spec = rows.spectrum[grp]
        if n_states > 1 and np.unique(spec).size != spec.size:
            np.add.at(out, spec, (mat @ np.ascontiguousarray(flux[grp].T)).T)
        else:
            out[spec] += (mat @ np.ascontiguousarray(flux[grp].T)).T

    _add_slab_lines(out, rows, model, strong_rows, j_node)

    if with_continuum:
        t_node = np.rint(rows.T / CONTINUUM_T_STEP_K).astype(int)
        coef = rows.weight * rows.slab_m * rows.ne_cm3 * 1e6 * rows.z2 * instrument.continuum_scale
        nodes, inverse = np.unique(t_node, return_inverse=True)
        shapes = np.stack([model.continuum_shape(int(t)) for t in nodes])
        weights = sp.csr_matrix((coef, (rows.spectrum, inverse)), shape=(n, nodes.size))
        out += weights @ shapes
    return out, j_node * model.offset_step_nm


@dataclass
class _StrongRows:
    """Rows and lines whose peak optical depth reaches STRONG_TAU: computed as a full slab."""

    rows: np.ndarray
    line: np.ndarray
    kL: np.ndarray
    B: np.ndarray


def _self_absorption(flux, rows: _GateRows, model: _InstrumentModel, n_over_u, beta) -> _StrongRows:
    """Scale moderately absorbed lines by their curve of growth; take strong (row, line) pairs out of ``flux``."""
    lines = model.lines
    # screen with an upper bound of each line's peak optical depth over the batch: the product of
    # per-row maxima (stage density / U, Boltzmann factor at the hottest row, stimulated emission <= 1,
    # Voigt peak <= min(Gaussian peak at the coolest row, Lorentzian peak at the lowest n_e), window >= 90%)
    sp_max = (n_over_u * rows.slab_m[:, None]).max(axis=0)
    boltz_max = np.exp(-lines.E_i_eV / (K_B_EV * rows.T.max()))
    peak_bound = np.minimum(model.gauss_peak_per_sqrt_t / np.sqrt(rows.T.min()),
                            2.0 / (np.pi * lines.stark_fwhm_nm * rows.ne_cm3.min() / 1e17 + 1e-30))
    bound = sp_max[model.line_species] * lines.g_i * boltz_max * model.absorption_const * peak_bound / 0.9
    cand = np.flatnonzero(bound > 1e-3)
    empty = np.zeros(0, dtype=int)
    if cand.size == 0:
        return _StrongRows(empty, empty, np.zeros(0), np.zeros(0))
    n_lower = n_over_u[:, model.line_species[cand]] * lines.g_i[cand] \
        * np.exp(-np.multiply.outer(beta, lines.E_i_eV[cand]))
    kL_bound = n_lower * (model.absorption_const[cand] * rows.slab_m[:, None])
    lam = lines.wavelength_nm[cand]
    T = rows.T[:, None]
    kL = kL_bound * -np.expm1(-HC_EV_NM / (lam[None, :] * K_B_EV * T))
    gauss = doppler_fwhm(lam[None, :], T, lines.mass_u[cand][None, :])
    lor = np.outer(rows.ne_cm3 / 1e17, lines.stark_fwhm_nm[cand])
    sigma = gauss / FWHM_PER_SIGMA
    peak = erfcx(lor / 2.0 / (sigma * np.sqrt(2.0))) / (sigma * np.sqrt(2.0 * np.pi))
    half = thin_window_nm(lor, voigt_fwhm(gauss, lor), float(np.median(model.width)))
    tau0 = kL * peak / lorentz_kept_fraction(lor, half)
    # below tau0 = 2e-3 the curve of growth differs from 1 by less than 0.1%
    r, c = np.nonzero((tau0 > 2e-3) & (tau0 < STRONG_TAU))
    flux[r, cand[c]] *= curve_of_growth(tau0[r, c], lor[r, c] / (lor[r, c] + gauss[r, c]))
    r, c = np.nonzero(tau0 >= STRONG_TAU)
    li = cand[c]
    strong = _StrongRows(r, li, kL[r, c], planck_radiance(lines.wavelength_nm[li], rows.T[r]))
    flux[r, li] = 0.0
    return strong


@dataclass
class _SlabGrid:
    """Fine grid around one strong line, with its profile shapes and pixel kernels (cached per instrument)."""

    x: np.ndarray
    cell: np.ndarray = None
    shapes: dict = field(default_factory=dict)
    kernels: dict = field(default_factory=dict)

    def __post_init__(self):
        self.cell = np.gradient(self.x)


def _quantise_up(value: float) -> float:
    """The next power of 2**(1/2) at or above ``value``."""
    return float(2.0 ** (np.ceil(2.0 * np.log2(value)) / 2.0))


def _add_slab_lines(out, rows: _GateRows, model: _InstrumentModel, strong: _StrongRows, j_node) -> None:
    """Radiance B (1 - exp(-tau)) of strongly self-absorbed lines, per gate state, on the pixels."""
    lines = model.lines
    px = float(np.median(model.width))
    inst_fwhm = model.instrument.resolution_fwhm_nm
    order = np.lexsort((strong.rows, strong.line))
    line_sorted = strong.line[order]
    bounds = np.flatnonzero(np.diff(line_sorted)) + 1
    for sel in np.split(order, bounds):
        if sel.size == 0:
            continue
        li = int(strong.line[sel[0]])
        r = strong.rows[sel]                       # ascending, so one spectrum's states are adjacent
        lam0 = lines.wavelength_nm[li]
        w_ref, mass = lines.stark_fwhm_nm[li], lines.mass_u[li]
        k_rows = _ne_node(rows.ne_cm3[r])
        t_rows = np.rint(rows.T[r] / DOPPLER_T_STEP_K).astype(int)
        keys, inverse = np.unique(k_rows * 1000 + t_rows, return_inverse=True)
        lor = w_ref * 10.0 ** (keys // 1000 * NE_NODE_DEX) / 1e17
        gauss = doppler_fwhm(lam0, keys % 1000 * DOPPLER_T_STEP_K, mass)
        fw = voigt_fwhm(gauss, lor)
        # the fine grid is quantised so that profiles and kernels are reused from batch to batch
        half = _quantise_up(float(thin_window_nm(lor, fw, px).max()))
        core = 1.0 / _quantise_up(1.0 / max(0.2 * float(fw.min()), 2e-4))
        # beyond x_c the line is thin (tau < 0.05 for the most absorbed row): coarse cells suffice there
        t_max = float(strong.kL[sel].max() * model.gauss_peak_per_sqrt_t[li] / np.sqrt(rows.T[r].min()))
        g_max = float(gauss.max()) / FWHM_PER_SIGMA
        x_c = max(g_max * np.sqrt(2.0 * np.log(max(t_max / 0.05, 1.0))),
                  float(np.sqrt(float((strong.kL[sel] * rows.ne_cm3[r]).max()) / 1e17 * w_ref / (2 * np.pi * 0.05))))
        x_c = min(_quantise_up(x_c + 1e-4), half)
        grid = model.grids.get((li, half, core, x_c))
        if grid is None:
            grid = model.grids[(li, half, core, x_c)] = _SlabGrid(
                fine_grid(core, half, model.offset_step_nm * OFFSET_NODES_PER_SIGMA, fine_until=x_c,
                          wing_growth=1.4))
        x, cell = grid.x, grid.cell
        missing = [kk for kk in keys.tolist() if kk not in grid.shapes]
        if missing:
            mk = np.array(missing)
            ml = w_ref * 10.0 ** (mk // 1000 * NE_NODE_DEX) / 1e17
            mg = doppler_fwhm(lam0, mk % 1000 * DOPPLER_T_STEP_K, mass)
            h = thin_window_nm(ml, voigt_fwhm(mg, ml), px)
            tab = voigt(x[None, :], 0.0, mg[:, None], ml[:, None])
            tab *= (np.abs(x)[None, :] <= h[:, None]) / lorentz_kept_fraction(ml, h)[:, None]
            for kk, row in zip(missing, tab, strict=True):
                grid.shapes[kk] = row
        # float32 from here: the slab radiance needs no more than 1e-6 relative precision
        table = np.stack([grid.shapes[kk] for kk in keys.tolist()]).astype(np.float32)
        radiance = table[inverse]
        radiance *= -strong.kL[sel].astype(np.float32)[:, None]
        np.expm1(radiance, out=radiance)
        radiance *= (-strong.B[sel] * rows.weight[r]).astype(np.float32)[:, None]
        radiance *= cell.astype(np.float32)[None, :]
        spec = rows.spectrum[r]                    # non-decreasing: a spectrum's states are adjacent
        j_rows = j_node[spec]
        reach = half + 3.0 * inst_fwhm + 2.0 * px
        for j in np.unique(j_rows):
            if j not in grid.kernels:
                centre = lam0 + j * model.offset_step_nm
                lo, hi = np.searchsorted(model.wl, [centre - reach, centre + reach])
                blur = np.sqrt(inst_fwhm ** 2 + (0.68 * cell) ** 2)
                kern = pixel_gaussian_kernel(model.wl[lo:hi, None] - centre - x[None, :], blur[None, :],
                                             model.width[lo:hi, None])
                grid.kernels[j] = (lo, hi, np.ascontiguousarray(kern.T, dtype=np.float32))
            lo, hi, kern_t = grid.kernels[j]
            if hi <= lo:
                continue
            pick = np.flatnonzero(j_rows == j)
            contrib = radiance[pick] @ kern_t          # (states, pixels): fewer columns than the fine grid
            s_pick = spec[pick]
            starts = np.flatnonzero(np.r_[True, s_pick[1:] != s_pick[:-1]])
            out[s_pick[starts], lo:hi] += np.add.reduceat(contrib, starts, axis=0)


def synthesise_counts(compositions: Sequence[Mapping[str, float]], shots, instrument: Instrument, plasma,
                      rng: np.random.Generator, *, noise_scale: float = 1.0, progress=None,
                      chunk: int = 512, average: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Counts for each composition and shot, and the offsets applied [nm].

    Without ``average`` the counts are one row per shot, shape (n, pixels). With ``average``, a
    bool mask over the T shots of a piece (True for the shots the piece keeps), consecutive
    groups of T shots are one piece's and the result is each piece's mean over its kept shots,
    shape (n / T, pixels): summed chunk by chunk, so only one chunk of shots is ever held (a
    training set of 4,000 pieces per grade otherwise holds every shot of a noise setting at once,
    gigabytes). Noisy counts are whole numbers, so the sums are exact in any order.
    """
    n = len(compositions)
    if average is not None:
        average = np.asarray(average, dtype=bool)
        if n % average.size:
            raise InputError(f"average: {n} shots are not whole pieces of {average.size}", field="average")
        out = np.zeros((n // average.size, instrument.n_pixels))
    else:
        out = np.empty((n, instrument.n_pixels))
    offsets = np.empty(n)
    response = instrument.response(instrument.wavelength_nm) * detector.pixel_widths(instrument.wavelength_nm)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        rad, off = plasma_radiance_batch(compositions[start:stop], shots[start:stop], instrument, plasma)
        area = np.array([s.ablation_scale for s in shots[start:stop]]) ** (2.0 / 3.0)
        electrons = rad * response[None, :] * (instrument.throughput_e_per_radiance_nm * area)[:, None]
        counts = read_out_fast(electrons, rng, instrument, noise_scale)
        if average is None:
            out[start:stop] = counts
        else:
            shot = np.arange(start, stop)
            kept = average[shot % average.size]
            piece = shot[kept] // average.size
            first = np.flatnonzero(np.r_[True, piece[1:] != piece[:-1]])
            out[piece[first]] += np.add.reduceat(counts[kept], first, axis=0)
        offsets[start:stop] = off
        if progress is not None:
            progress(stop)
    if average is not None:
        out /= average.sum()
    return out, offsets


def read_out_fast(electrons: np.ndarray, rng: np.random.Generator, instrument: Instrument,
                  noise_scale: float) -> np.ndarray:
    """Detector read-out with Gaussian shot noise, exact Poisson where it matters (few e-, low read noise).

    Notes
    -----
    Poisson(N) and Normal(N, N) have the same mean and variance; above about 10 e- the
    remaining skewness (N^-1/2) is small beside read noise and line-to-line variation;
    drawing one Gaussian with variance gain^2 N + read_noise^2 per pixel keeps the
    variance exact and is much cheaper than a Poisson draw.
    """
    g = instrument.gain_counts_per_e
    if noise_scale == 0:
        return np.clip(g * electrons + instrument.dark_counts, 0.0, instrument.adc_max_counts)
    electrons = np.maximum(electrons, 0.0, out=electrons)
    z = rng.standard_normal(electrons.shape, dtype=np.float32)
    counts = electrons * (g * g)
    counts += instrument.read_noise_counts ** 2
    np.sqrt(counts, out=counts)
    counts *= z
    if noise_scale != 1.0:
        counts *= noise_scale
    counts += electrons * g
    counts += instrument.dark_counts
    # exact Poisson only where the Gaussian would misstate the skewness: few photoelectrons and
    # read noise too small to hide it (skewness g^3 N / (g^2 N + r^2)^1.5 above 0.1)
    grid = np.linspace(0.0, GAUSSIAN_NOISE_FROM, 2001)[1:]
    skewed = grid[grid > 0.1 * (grid + (instrument.read_noise_counts / g) ** 2) ** 1.5]
    low = None
    if skewed.size:
        low = (electrons >= skewed[0] - 0.01) & (electrons <= skewed[-1] + 0.01) if skewed[0] > 0.01 \
            else electrons <= skewed[-1] + 0.01
    if low is not None and np.any(low):
        mean = electrons[low]
        shot = rng.poisson(mean).astype(float)
        if noise_scale != 1.0:
            shot = mean + noise_scale * (shot - mean)
        counts[low] = (g * shot + instrument.dark_counts
                       + instrument.read_noise_counts * noise_scale * rng.standard_normal(mean.size))
    np.rint(counts, out=counts)
    return np.clip(counts, 0.0, instrument.adc_max_counts, out=counts)
