"""Inventory CSV: catalogue names, own chemistry, units and the errors people make."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blending.catalogue.materials import get_material
from blending.catalogue.tables import DataFileError
from blending.lot import heel_composition_from_text, load_inventory


def write(tmp_path, text):
    path = tmp_path / "inventory.csv"
    path.write_text(text)
    return path


def test_catalogue_name_takes_the_catalogue_and_blank_available_is_unlimited(tmp_path):
    lots = load_inventory(write(tmp_path, "material,available_kg\nUBC,12000\nP1020,\n"))
    assert lots[0].material == get_material("UBC")
    assert lots[0].available_kg == 12000
    assert lots[1].available_kg is None


def test_row_cells_override_catalogue_fields_and_chemistry_as_a_whole(tmp_path):
    text = ("material,available_kg,cost_per_kg,yield,Si,Fe,sd_Fe\n"
            "UBC,5000,1.7,,0.3,0.6,0.08\n")
    (lot,) = load_inventory(write(tmp_path, text))
    ubc = get_material("UBC")
    assert lot.material.cost_per_kg == 1.7
    assert lot.material.metal_yield == ubc.metal_yield            # blank: the catalogue's
    assert dict(lot.material.composition) == {"Si": 0.3, "Fe": 0.6}  # Mg etc. not mixed in
    assert lot.material.sd_wt_pct == {"Fe": 0.08}
    assert lot.material.recycled == ubc.recycled


def test_own_material_with_any_element_and_units(tmp_path):
    text = ("material,available_kg,cost_per_kg,co2e_kg_per_kg,recycled,yield,Si,Bi,Be,sd_Bi,unit_kg,max_fraction\n"
            "free-cutting bar ends,2000,1.5,0.4,pre-consumer,0.95,0.6,0.5,0.001,0.1,400,0.3\n")
    (lot,) = load_inventory(write(tmp_path, text))
    assert lot.material.composition["Bi"] == 0.5 and lot.material.composition["Be"] == 0.001
    assert lot.unit_kg == 400 and lot.max_units == 5 and lot.max_fraction == 0.3


@pytest.mark.parametrize("text, message", [
    ("material,available_kg\nunobtainium,100\n", r"'unobtainium' is not a catalogue material"),
    ("material,available_kg\nUBC,-5\n", r"row 2, available_kg: -5 kg must be at least 0"),
    ("material,available_kg\nUBC,lots\n", r"row 2, available_kg: 'lots' is not a number"),
    ("available_kg\n100\n", r"missing column\(s\) material"),
    ("material,available_kg\nUBC,1\nubc,2\n", r"row 3, material: 'UBC' is already listed in row 2"),
    ("material,available_kg,unit_kg\nUBC,100,0\n", r"row 2, unit_kg: 0 kg"),
    ("material,available_kg,max_fraction\nUBC,100,1.5\n", r"row 2, max_fraction: 1.5 kg/kg must be between 0 and 1"),
])
def test_bad_rows_name_file_row_and_field(tmp_path, text, message):
    with pytest.raises(DataFileError, match=message):
        load_inventory(write(tmp_path, text))


@given(st.dictionaries(st.sampled_from(["Si", "Fe", "Cu", "Mn", "Mg", "Zn", "Bi", "Be"]),
                       st.floats(0.001, 5.0, allow_nan=False), min_size=1))
def test_heel_composition_text_round_trips(wt):
    text = ",".join(f"{k}={v!r}" for k, v in wt.items())
    comp = heel_composition_from_text(text)
    for k, v in wt.items():
        assert math.isclose(comp[k], v)


@pytest.mark.parametrize("text", ["Mg", "Mg=x", "Qq=1", "Mg=-1"])
def test_bad_heel_composition(text):
    with pytest.raises(ValueError, match="--heel-composition"):
        heel_composition_from_text(text)
