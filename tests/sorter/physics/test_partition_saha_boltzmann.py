"""Partition functions, Saha balance and Boltzmann populations against hand calculations."""

import numpy as np
import pytest
import scipy.constants as sc
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from sorter.atomic_data import energy_levels, ionisation_energies
from sorter.physics.boltzmann import level_population
from sorter.physics.partition import partition_function
from sorter.physics.saha import saha_ratio, stage_fractions

K_EV = sc.k / sc.e


def test_partition_function_of_a_two_level_toy():
    # U = 2 + 4 exp(-1 eV / kT), by hand at 11604.5 K where kT = 1 eV
    T = 1.0 / K_EV
    assert_allclose(partition_function([2, 4], [0.0, 1.0], T), 2 + 4 * np.exp(-1.0), rtol=1e-6)


def test_hydrogen_partition_function_is_two_at_plasma_temperatures():
    # n = 2..40 add sum 2 n^2 exp(-13.6 (1 - 1/n^2) / kT), about 0.3% at 10,000 K
    g, e = energy_levels()["H I"]
    n = np.arange(2, 41)
    by_hand = 2 + np.sum(2 * n ** 2 * np.exp(-13.598434 * (1 - 1 / n ** 2) / (K_EV * 10000.0)))
    assert_allclose(partition_function(g, e, 10000.0), by_hand, rtol=2e-3)


def test_aluminium_neutral_partition_function_against_its_lowest_terms():
    # 3p 2P (g 2+4), 4s 2S (3.143 eV, 2), 3p2 4P (3.60 eV, 12), 3d 2D (4.02 eV, 10), 4p 2P (4.09 eV, 6):
    # a hand sum that bounds U from below; the Rydberg levels up to the limit add less than 25% more
    g, e = energy_levels()["Al I"]
    kT = K_EV * 10000.0
    by_hand = (2 + 4 * np.exp(-0.01389 / kT) + 2 * np.exp(-3.143 / kT) + 12 * np.exp(-3.60 / kT)
               + 10 * np.exp(-4.02 / kT) + 6 * np.exp(-4.09 / kT))
    u = partition_function(g, e, 10000.0)
    assert 0.99 * by_hand < u < 1.25 * by_hand


@settings(deadline=None)
@given(st.floats(3000, 30000), st.floats(1.0, 2.0))
def test_partition_function_grows_with_temperature(T, factor):
    g, e = energy_levels()["Fe I"]
    assert partition_function(g, e, T * factor) >= partition_function(g, e, T)


def test_saha_constant_and_ratio_match_first_principles():
    T, ne, E = 10000.0, 1e23, 5.985769
    thermal = (2 * np.pi * sc.m_e * sc.k * T / sc.h ** 2) ** 1.5
    expected = 2 * (1.0 / 6.0) * thermal * np.exp(-E / (K_EV * T)) / ne
    assert_allclose(saha_ratio(T, ne, 6.0, 1.0, E), expected, rtol=1e-4)


def test_aluminium_is_mostly_ionised_at_10000_K_and_1e17_cm3():
    # PRIMER 1.2: "Aluminium at 10,000 K and n_e = 1e23 m^-3 is mostly ionised"
    lv, ie = energy_levels(), ionisation_energies()
    U = [partition_function(*lv[s], 10000.0) for s in ("Al I", "Al II", "Al III")]
    f = stage_fractions(10000.0, 1e23, U, [ie["Al I"], ie["Al II"]])
    assert f[1] > 0.8 and f[0] < 0.2


@settings(max_examples=50, deadline=None)
@given(st.floats(5000, 20000), st.floats(21, 25), st.floats(1.01, 1.5))
def test_ionisation_grows_with_temperature_and_falls_with_density(T, log_ne, step):
    lv, ie = energy_levels(), ionisation_energies()
    E = [ie["Mg I"], ie["Mg II"]]

    def fractions(T, ne):
        U = [partition_function(*lv[s], T) for s in ("Mg I", "Mg II", "Mg III")]
        return stage_fractions(T, ne, U, E)

    base = fractions(T, 10 ** log_ne)
    assert_allclose(base.sum(axis=0), 1.0, rtol=1e-12)
    hotter = fractions(T * step, 10 ** log_ne)
    denser = fractions(T, 10 ** log_ne * step)
    assert hotter[0] <= base[0] + 1e-12
    assert denser[0] >= base[0] - 1e-12


@settings(deadline=None)
@given(st.floats(4000, 30000))
def test_boltzmann_populations_of_all_levels_sum_to_the_stage_density(T):
    g, e = energy_levels()["Ti II"]
    U = partition_function(g, e, T)
    assert_allclose(level_population(1e20, g, e, U, T).sum(), 1e20, rtol=1e-10)


def test_partition_function_refuses_a_non_positive_temperature():
    with pytest.raises(ValueError, match="positive"):
        partition_function([1], [0.0], 0.0)
