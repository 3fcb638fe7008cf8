"""The heat footprint checked by hand: an ingot of 99% recycled plus 1% green-power primary."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blending.catalogue.materials import RecycledCategory as C
from blending.errors import InputError, NotFoundError
from blending.footprint import ChargedMaterial, Energy, emission_factors, factor, footprint, melting_energies

# The factors of the hand calculation, stated here (not read from the code):
SCRAP_KG_PER_KG = 0.35      # post-consumer UBC, cut-off: collection and pre-treatment only (materials.csv)
GREEN_PRIMARY_KG_PER_KG = 4.0   # IAI low-carbon threshold, hydro-powered smelter
GAS_KG_PER_KWH = 0.202      # IPCC 2006: 56,100 kg CO2/TJ natural gas
MELT_KWH_PER_T = 800        # gas reverberatory furnace


def ingot(run_around_kg=0.0):
    charge = [ChargedMaterial("UBC", 990.0, C.POST_CONSUMER, SCRAP_KG_PER_KG, "test"),
              ChargedMaterial("P1020 hydro", 10.0, C.PRIMARY, GREEN_PRIMARY_KG_PER_KG, "test")]
    if run_around_kg:
        charge.append(ChargedMaterial("run-around", run_around_kg, C.RUN_AROUND, 0.0, "test"))
    energy = Energy(MELT_KWH_PER_T, "natural gas", GAS_KG_PER_KWH, "direct", "test")
    return footprint(charge, product_kg=1000.0, energy=energy)


def test_ingot_99_percent_recycled_by_hand():
    fp = ingot()
    # by hand: 990 x 0.35 = 346.5; 10 x 4.0 = 40.0; 800 kWh/t x 1 t x 0.202 = 161.6; sum 548.1 kg per 1 t
    assert fp.materials_kg_co2e == pytest.approx(386.5)
    assert fp.melting_kg_co2e == pytest.approx(161.6)
    assert fp.kg_co2e_per_t == pytest.approx(548.1)
    assert fp.recycled_content_fraction == pytest.approx(0.99)
    cbam = fp.to_json()["cbam"]
    # CBAM: scrap zero, primary 40.0 as precursor + gas 161.6 direct; no electricity -> indirect 0
    assert cbam["direct_kg_co2e_per_t"] == pytest.approx(201.6)
    assert cbam["indirect_kg_co2e_per_t"] == 0
    # compared with an ingot of world-average primary (16.1 kg/kg) melted the same way: far smaller
    assert fp.kg_co2e_per_t < 0.05 * 16100


def test_run_around_is_excluded_from_the_recycled_claim():
    fp = ingot(run_around_kg=1000.0)   # now 2000 kg charged, 990 post-consumer
    assert fp.recycled_content_fraction == pytest.approx(990 / 2000)
    assert fp.recycled_by_category_fraction["run_around"] == pytest.approx(0.5)


def test_electric_melting_is_indirect():
    charge = [ChargedMaterial("P1020", 1000.0, C.PRIMARY, 16.1, "test")]
    fp = footprint(charge, 950.0, Energy(600, "grid", 0.5, "indirect", "test"))
    # by hand: 16,100 + 600 x 0.95 x 0.5 = 16,385 kg for 0.95 t
    assert fp.kg_co2e_per_t == pytest.approx(16385 / 0.95)
    assert fp.to_json()["cbam"]["indirect_kg_co2e_per_t"] == pytest.approx(300)


def test_bundled_factors_have_sources_and_a_carrier():
    for f in emission_factors().values():
        assert f.source and f.averaging
        assert (f.kg_co2e_per_kg is None) != (f.kg_co2e_per_kwh is None), f.factor
    for furnace in melting_energies():
        assert Energy.of_furnace(furnace).kg_co2e_per_kwh >= 0
    # recycled remelted metal is about 5% of the world primary figure
    assert factor("recycled aluminium remelted").kg_co2e_per_kg == pytest.approx(
        0.05 * factor("primary aluminium world").kg_co2e_per_kg, rel=0.05)
    with pytest.raises(NotFoundError):
        factor("moon aluminium")


def test_bad_input_is_refused():
    energy = Energy(800, "gas", 0.2, "direct", "t")
    with pytest.raises(InputError):
        footprint([ChargedMaterial("x", -1, C.PRIMARY, 1, "t")], 1000, energy)
    with pytest.raises(InputError):
        footprint([ChargedMaterial("x", 1, C.PRIMARY, 1, "t")], 0, energy)


@given(st.lists(st.tuples(st.floats(0, 1e5), st.sampled_from(list(C)), st.floats(0, 40)), min_size=1, max_size=8),
       st.floats(1, 1e5))
def test_footprint_is_linear_and_splits_exactly(lines, product_kg):
    charge = [ChargedMaterial(f"m{i}", kg, cat, f, "t") for i, (kg, cat, f) in enumerate(lines)]
    if sum(c.mass_kg for c in charge) <= 0:
        return
    fp = footprint(charge, product_kg, Energy(700, "gas", 0.2, "direct", "t"))
    doubled = footprint([ChargedMaterial(c.material, c.mass_kg, c.category, 2 * c.kg_co2e_per_kg, "t")
                         for c in charge], product_kg, Energy(700, "gas", 0.4, "direct", "t"))
    assert doubled.total_kg_co2e == pytest.approx(2 * fp.total_kg_co2e, rel=1e-9, abs=1e-9)
    assert sum(fp.recycled_by_category_fraction.values()) == pytest.approx(1)
    assert fp.cbam_direct_kg_co2e <= fp.total_kg_co2e + 1e-6


def test_recycled_shares_are_of_the_metal_delivered():
    # 1000 kg scrap at yield 0.8 gives 800 kg metal, 200 kg primary at yield 1: 800 / 1000 recycled
    charge = [ChargedMaterial("s", 1000, C.POST_CONSUMER, 0.3, "t", metal_yield=0.8),
              ChargedMaterial("p", 200, C.PRIMARY, 16.1, "t")]
    fp = footprint(charge, 1000, Energy(0, "none", 0, "direct", "t"))
    assert fp.recycled_content_fraction == pytest.approx(0.8)
    assert fp.kg_co2e_per_t == pytest.approx(300 + 200 * 16.1)
