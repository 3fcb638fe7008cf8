"""Saha-Boltzmann terms: the served polynomial form against the level sums, and against a hand-written Saha balance."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from sorter.atomic_data import energy_levels
from sorter.training.plasma_terms import LN_NE_RANGE, THETA_RANGE, SahaBoltzmannTerms

TERMS = SahaBoltzmannTerms.for_elements()


@settings(max_examples=60, deadline=None)
@given(theta=st.floats(*THETA_RANGE), ln_ne=st.floats(*LN_NE_RANGE))
def test_polynomial_partition_functions_match_the_level_sums(theta, ln_ne):
    state = np.array([[theta, ln_ne]])
    assert_allclose(TERMS(state), TERMS.exact(state), atol=1e-3)


def test_aluminium_at_10000_K_and_1e17_per_cm3_by_hand():
    """Griem eq. 6.41 written out: n_II n_e / n_I = 2 U_II / U_I (2 pi m_e k T / h^2)^1.5 exp(-E_ion / k T)."""
    T, ne_m3 = 10000.0, 1e17 * 1e6
    kT = 8.617333262e-5 * T
    U = {}
    for z in ("I", "II", "III"):
        g, e = energy_levels()[f"Al {z}"]
        U[z] = float(np.sum(g * np.exp(-e / kT)))
    s1 = 2 * U["II"] / U["I"] * 2.4147e21 * T ** 1.5 * np.exp(-5.985769 / kT) / ne_m3
    s2 = 2 * U["III"] / U["II"] * 2.4147e21 * T ** 1.5 * np.exp(-18.82855 / kT) / ne_m3
    f_one = 1.0 / (1.0 + s1 + s1 * s2)
    out = TERMS(np.array([[1.0, np.log(1e17)]]))[0]
    j = 2 + 2 * TERMS.elements.index("Al")
    assert_allclose(out[j], np.log(f_one / U["I"]), atol=1e-3)
    assert_allclose(out[j + 1], np.log(s1 * f_one / U["II"]), atol=1e-3)
    assert 0.5 < s1 * f_one < 1.0          # aluminium (6.0 eV) is mostly singly ionised there


def test_states_outside_the_tables_are_clipped_to_their_edges():
    inside = np.array([[THETA_RANGE[1], LN_NE_RANGE[0]]])
    outside = np.array([[THETA_RANGE[1] + 0.5, LN_NE_RANGE[0] - 3.0]])
    assert_allclose(TERMS(outside), TERMS(inside))
    assert np.all(np.isfinite(TERMS(np.array([[-1.0, 0.0], [10.0, 100.0]]))))
