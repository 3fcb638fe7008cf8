"""The labelled spectrum picture: a PNG, main lines labelled where they rise above the baseline."""

import numpy as np
import pytest

from sorter.spectrum import Spectrum
from sorter.spectrum_plot import _peak_near, main_lines, plot_spectra


def test_plot_writes_a_png(tmp_path):
    wl = np.linspace(380.0, 400.0, 500)
    y = 100 + 5000 * np.exp(-0.5 * ((wl - 396.15) / 0.05) ** 2)
    out = plot_spectra([Spectrum(wl, y), Spectrum(wl, y * 0.5)], ["a", "b"], tmp_path / "p.png", zoom=(395, 397))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_shared_peak_goes_to_the_closest_line():
    wl = np.linspace(255.0, 260.0, 300)
    y = 100 + 5000 * np.exp(-0.5 * ((wl - 257.51) / 0.05) ** 2)
    height, where = _peak_near(Spectrum(wl, y), 257.61)
    assert abs(where - 257.51) < 0.03 and height > 4000
    assert any(line.label == "Al I 257.51" for line in main_lines())


def test_plot_refuses_mismatched_names(tmp_path):
    s = Spectrum([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="2 names for 1 spectra"):
        plot_spectra([s], ["a", "b"], tmp_path / "x.png")
