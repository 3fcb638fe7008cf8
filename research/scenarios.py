"""Held-out test conditions for the accuracy targets: what the model never saw in training.

Training (``training.simulated_data``) draws piece spectra (the mean of ``SHOTS_PER_PIECE``
shots sharing one plasma state) at T_e 8,000-14,000 K, n_e 1e16-1e18 cm^-3, gate spreads 0.06 /
0.12 / 0.18, ablation scatter 0.25, noise scales 0.7/1.0/1.4 and wavelength offsets within
+-0.02 nm. Each held-out set changes several of these: a gate spread of 0.20 or 0.16, more
ablation scatter, plasma states beyond the training edges, noise scales 1.2-1.6 and offsets of
0.05 nm. The unseen instruments differ in grid, range, resolution, spectral response and
continuum. Used by ``bench/classify_accuracy.py`` and the evaluation tests, so both measure the
same thing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HeldOut:
    name: str
    T_e_K: tuple[float, float]
    n_e_per_cm3: tuple[float, float]
    noise_scale: float
    offset_nm: tuple[float, float]
    gate_spread: float = 0.12
    ablation_sd: float = 0.25

    def plasma(self):
        from sorter.simulate import PlasmaRanges

        return PlasmaRanges(T_e_K=self.T_e_K, n_e_per_cm3=self.n_e_per_cm3, gate_spread=self.gate_spread,
                            ablation_sd=self.ablation_sd)

    def simulate(self, grades, n_per_grade: int, instrument, seed: int):
        """Piece spectra (the mean of ``SHOTS_PER_PIECE`` shots, as in training) under these conditions."""
        from sorter.shots import SHOTS_PER_PIECE, ShotPlan
        from sorter.simulate import simulate_batch

        return simulate_batch(list(grades), n_per_grade, instrument, seed, plasma=self.plasma(),
                              noise_scale=self.noise_scale, wavelength_offset_nm=self.offset_nm,
                              shot_plan=ShotPlan(n_shots=SHOTS_PER_PIECE))


HELD_OUT = (
    HeldOut("wider gate, more ablation scatter, noise x1.6, +-0.05 nm", (8000.0, 14000.0), (1e16, 1e18), 1.6,
            (-0.05, 0.05), gate_spread=0.2, ablation_sd=0.35),
    HeldOut("hot dense edge 12,500-14,300 K, noise x1.2, +0.05 nm", (12500.0, 14300.0), (4e17, 1.2e18), 1.2,
            (0.05, 0.05)),
    HeldOut("cool thin edge 7,900-9,500 K, noise x1.2, -0.05 nm", (7900.0, 9500.0), (9e15, 4e16), 1.2,
            (-0.05, -0.05), gate_spread=0.16),
)


def unseen_instrument(model_instrument: str):
    """A spectrometer the bundled ``model_instrument`` model never saw.

    Another pixel grid and range, resolution 0.05-0.15 nm, another spectral response and a
    continuum of its own (``continuum_scale``), inside the model's range enough to see its lines.
    """
    from sorter.instruments import Instrument

    if model_instrument == "highres":
        return Instrument(name="unseen-uv", wavelength_min_nm=235.0, wavelength_max_nm=430.0, n_pixels=3100,
                          resolution_fwhm_nm=0.08, calibration_curvature_nm=0.1,
                          response_wavelength_nm=(230.0, 300.0, 360.0, 430.0), response_relative=(0.9, 0.6, 0.8, 1.0),
                          throughput_e_per_radiance_nm=0.8, read_noise_counts=1.4, dark_counts=500.0,
                          continuum_scale=2.0, description="unseen UV spectrometer for transfer tests")
    return Instrument(name="unseen-broadband", wavelength_min_nm=190.0, wavelength_max_nm=880.0, n_pixels=3600,
                      resolution_fwhm_nm=0.15, calibration_curvature_nm=0.5,
                      response_wavelength_nm=(190.0, 300.0, 500.0, 700.0, 880.0),
                      response_relative=(0.3, 0.9, 0.7, 1.0, 0.6), throughput_e_per_radiance_nm=0.7,
                      read_noise_counts=1.6, dark_counts=250.0, continuum_scale=0.4,
                      description="unseen broadband spectrometer for transfer tests")


def transfer_instrument():
    """A new instrument profile for the retraining test (200 labelled spectra per grade)."""
    from sorter.instruments import Instrument

    return Instrument(name="plant-b", wavelength_min_nm=250.0, wavelength_max_nm=560.0, n_pixels=3000,
                      resolution_fwhm_nm=0.07, calibration_curvature_nm=0.2,
                      response_wavelength_nm=(250.0, 350.0, 450.0, 560.0), response_relative=(0.5, 1.0, 0.8, 0.5),
                      throughput_e_per_radiance_nm=0.9, read_noise_counts=1.0, dark_counts=350.0,
                      continuum_scale=1.5, description="new instrument profile for the retraining test")
