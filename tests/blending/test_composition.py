import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blending.catalogue.composition import Composition, CompositionError, elements

ALLOYING = ["Si", "Fe", "Cu", "Mn", "Mg", "Cr", "Ni", "Zn", "Ti", "Pb", "Sn", "Li", "Be", "Bi"]


@given(st.dictionaries(st.sampled_from(ALLOYING), st.floats(0, 7, allow_nan=False), max_size=len(ALLOYING)))
def test_aluminium_is_the_balance(wt):
    comp = Composition(wt)
    assert math.isclose(comp.al_wt_pct, 100 - sum(wt.values()), abs_tol=1e-9)
    for symbol, value in wt.items():
        assert comp[symbol] == pytest.approx(value)


@given(st.dictionaries(st.sampled_from(ALLOYING), st.floats(0.01, 7), min_size=1, max_size=6))
def test_atomic_fractions_sum_to_one_and_follow_mass_over_atomic_mass(wt):
    fractions = Composition(wt).atomic_fractions()
    assert math.isclose(sum(fractions.values()), 1.0, rel_tol=1e-12)
    # n_e / n_Al = (w_e / M_e) / (w_Al / M_Al), independent of the normalisation
    table = elements()
    comp = Composition(wt)
    for symbol, value in wt.items():
        expected = (value / table[symbol].atomic_mass_u) / (comp.al_wt_pct / table["Al"].atomic_mass_u)
        assert fractions[symbol] / fractions["Al"] == pytest.approx(expected, rel=1e-12)


def test_unlisted_element_reads_as_zero_and_unknown_symbol_is_key_error():
    comp = Composition({"Mg": 4.5})
    assert comp["Zn"] == 0.0
    with pytest.raises(KeyError):
        comp["Xx"]


@pytest.mark.parametrize(
    "wt, match",
    [
        ({"Mg": -0.2}, r"Mg: -0.2 wt% must be between 0 and 100"),
        ({"Mg": 101}, r"Mg: 101 wt% must be between 0 and 100"),
        ({"Mg": float("nan")}, r"Mg: nan wt% must be between 0 and 100"),
        ({"Qq": 1.0}, r"'Qq' is not an element symbol"),
        ({"Si": 60, "Cu": 50}, r"sum to 110 wt%, more than 100"),
        ({"Mg": "lots"}, r"Mg: 'lots' is not a number"),
        ({"Mg": 4.5, "Al": 90.0}, r"Al: 90 wt% disagrees with the balance 95.500"),
    ],
)
def test_bad_compositions_are_rejected_with_the_field_named(wt, match):
    with pytest.raises(CompositionError, match=match):
        Composition(wt, where="lab.csv row 3")


def test_error_names_where_the_numbers_came_from():
    with pytest.raises(CompositionError, match=r"^inventory.csv row 7, Mg: "):
        Composition({"Mg": -0.2}, where="inventory.csv row 7")


def test_consistent_aluminium_is_accepted_and_dropped():
    comp = Composition({"Mg": 4.5, "Al": 95.4})
    assert "Al" not in comp.as_dict()
    assert comp.al_wt_pct == pytest.approx(95.5)
