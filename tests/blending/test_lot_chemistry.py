"""A lot's mean chemistry and the sd of that mean, against hand calculation, properties and Monte Carlo."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blending.errors import InputError
from blending.lot_chemistry import PieceChemistry, ShareBias, lot_chemistry


def test_two_pieces_by_hand():
    pieces = [PieceChemistry(2.0, "3104", {"Mn": 1.0, "Mg": 1.1}, {"Mn": 0.1, "Mg": 0.2}),
              PieceChemistry(6.0, "3104", {"Mn": 1.4, "Mg": 0.9}, {"Mn": 0.1, "Mg": 0.2})]
    shared = ShareBias({"3104": {"Mn": 0.03, "Mg": 0.05}}, bias_wt_pct={"3104": {"Mn": 0.1}})
    lot = lot_chemistry(pieces, shared, name="bin A")
    # weights 1/4 and 3/4; Mn corrected by its measured bias 0.1
    assert lot.mean_wt_pct["Mn"] == pytest.approx(0.25 * 0.9 + 0.75 * 1.3)
    assert lot.mean_wt_pct["Mg"] == pytest.approx(0.25 * 1.1 + 0.75 * 0.9)
    random_mn = math.sqrt((0.25 * 0.1) ** 2 + (0.75 * 0.1) ** 2)
    assert lot.random_sd_wt_pct["Mn"] == pytest.approx(random_mn)
    assert lot.shared_sd_wt_pct["Mn"] == pytest.approx(0.03)
    assert lot.sd_of_mean_wt_pct["Mn"] == pytest.approx(math.sqrt(random_mn ** 2 + 0.03 ** 2))
    assert lot.mass_kg == 8.0 and lot.piece_count == 2 and lot.grade_mix == {"3104": 1.0} and lot.unknown_rate == 0


def test_a_mixed_lot_adds_the_grades_shared_parts_by_mass_share_and_unknowns_their_own():
    pieces = [PieceChemistry(1.0, "3104", {"Mg": 1.0}, {"Mg": 0.0}),
              PieceChemistry(1.0, "5182", {"Mg": 4.5}, {"Mg": 0.0}),
              PieceChemistry(2.0, None, {}, {})]
    shared = ShareBias({"3104": {"Mg": 0.04}, "5182": {"Mg": 0.12}}, unknown_sd_wt_pct={"Mg": 1.5})
    lot = lot_chemistry(pieces, shared, name="mixed", unknown_wt_pct={"Mg": 2.0})
    assert lot.mean_wt_pct["Mg"] == pytest.approx(0.25 * 1.0 + 0.25 * 4.5 + 0.5 * 2.0)
    assert lot.shared_sd_wt_pct["Mg"] == pytest.approx(0.25 * 0.04 + 0.25 * 0.12 + 0.5 * 1.5)
    assert lot.unknown_rate == pytest.approx(1 / 3)
    assert lot.grade_mix == pytest.approx({"3104": 0.25, "5182": 0.25, "unknown": 0.5})


def test_a_grade_the_card_does_not_know_is_treated_as_unknown():
    pieces = [PieceChemistry(1.0, "brass", {"Zn": 30.0}, {"Zn": 1.0})]
    lot = lot_chemistry(pieces, ShareBias({"3104": {"Zn": 0.01}}, unknown_sd_wt_pct={"Zn": 2.0}), name="x")
    assert lot.shared_sd_wt_pct["Zn"] == pytest.approx(2.0)


def test_the_mean_never_goes_negative_after_the_bias_correction():
    lot = lot_chemistry([PieceChemistry(1.0, "1050A", {"Cu": 0.001}, {"Cu": 0.002})],
                        ShareBias({"1050A": {"Cu": 0.001}}, bias_wt_pct={"1050A": {"Cu": 0.01}}), name="x")
    assert lot.mean_wt_pct["Cu"] == 0.0


@pytest.mark.parametrize("piece, field", [
    (PieceChemistry(0.0, "3104", {"Mn": 1.0}, {}), "pieces[0].mass_kg"),
    (PieceChemistry(-1.0, "3104", {"Mn": 1.0}, {}), "pieces[0].mass_kg"),
    (PieceChemistry(float("nan"), "3104", {"Mn": 1.0}, {}), "pieces[0].mass_kg"),
    (PieceChemistry(1.0, "3104", {"Mn": -0.5}, {}), "pieces[0].composition_wt_pct.Mn"),
    (PieceChemistry(1.0, "3104", {"Mn": 1.0}, {"Mn": float("inf")}), "pieces[0].random_sd_wt_pct.Mn"),
])
def test_bad_pieces_are_refused_naming_the_field(piece, field):
    with pytest.raises(InputError) as info:
        lot_chemistry([piece], name="x")
    assert info.value.field == field


def test_a_piece_without_an_estimate_needs_a_prior():
    pieces = [PieceChemistry(1.0, "3104", {"Mn": 1.0}, {}), PieceChemistry(1.0, None, {}, {})]
    with pytest.raises(InputError, match="piece 2 has no Mn estimate") as info:
        lot_chemistry(pieces, name="x")
    assert info.value.field == "pieces[1].composition_wt_pct.Mn"
    with pytest.raises(InputError, match="no pieces"):
        lot_chemistry([], name="x")


def test_the_inventory_row_is_read_back_by_the_inventory_loader(tmp_path):
    import csv

    from blending.lot import load_inventory

    lot = lot_chemistry([PieceChemistry(3.0, "3104", {"Mn": 1.0, "Mg": 1.1}, {"Mn": 0.1, "Mg": 0.1})],
                        ShareBias({"3104": {"Mn": 0.02, "Mg": 0.03}}), name="bin 3104",
                        metal_yield=0.9, cost_per_kg=1.9, co2e_kg_per_kg=0.35)
    row = lot.inventory_row()
    path = tmp_path / "lots.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
    (read,) = load_inventory(path)
    assert read.name == "bin 3104" and read.available_kg == pytest.approx(3.0)
    assert read.material.composition["Mn"] == pytest.approx(1.0)
    assert read.material.sd("Mg") == pytest.approx(lot.sd_of_mean_wt_pct["Mg"], rel=1e-5)


# ---- properties ------------------------------------------------------------------------------
masses = st.floats(0.01, 50.0)
contents = st.floats(0.0, 10.0)
sds = st.floats(0.0, 1.0)
piece_lists = st.lists(st.tuples(masses, st.sampled_from(["3104", "5182", None]), contents, sds),
                       min_size=1, max_size=25)
SHARED = ShareBias({"3104": {"Mg": 0.05}, "5182": {"Mg": 0.2}}, bias_wt_pct={"3104": {"Mg": 0.01}},
                   unknown_sd_wt_pct={"Mg": 1.0})


def _pieces(spec):
    return [PieceChemistry(m, g, {"Mg": c}, {"Mg": s}) for m, g, c, s in spec]


@settings(max_examples=60, deadline=None)
@given(piece_lists)
def test_the_sd_of_the_mean_is_never_below_its_shared_part(spec):
    lot = lot_chemistry(_pieces(spec), SHARED, name="x")
    assert lot.sd_of_mean_wt_pct["Mg"] >= lot.shared_sd_wt_pct["Mg"] * (1 - 1e-12)
    assert lot.sd_of_mean_wt_pct["Mg"] >= lot.random_sd_wt_pct["Mg"] * (1 - 1e-12)


@settings(max_examples=60, deadline=None)
@given(piece_lists, st.randoms(use_true_random=False))
def test_order_does_not_matter(spec, rnd):
    shuffled = list(spec)
    rnd.shuffle(shuffled)
    a, b = lot_chemistry(_pieces(spec), SHARED, name="x"), lot_chemistry(_pieces(shuffled), SHARED, name="x")
    assert a.mean_wt_pct["Mg"] == pytest.approx(b.mean_wt_pct["Mg"], rel=1e-12, abs=1e-12)
    assert a.sd_of_mean_wt_pct["Mg"] == pytest.approx(b.sd_of_mean_wt_pct["Mg"], rel=1e-12, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(piece_lists, st.floats(1e-3, 1e3))
def test_scaling_every_mass_changes_only_the_lot_mass(spec, factor):
    a = lot_chemistry(_pieces(spec), SHARED, name="x")
    b = lot_chemistry(_pieces([(m * factor, g, c, s) for m, g, c, s in spec]), SHARED, name="x")
    assert b.mass_kg == pytest.approx(a.mass_kg * factor)
    assert b.mean_wt_pct["Mg"] == pytest.approx(a.mean_wt_pct["Mg"], rel=1e-9, abs=1e-12)
    assert b.sd_of_mean_wt_pct["Mg"] == pytest.approx(a.sd_of_mean_wt_pct["Mg"], rel=1e-9, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(2, 9), masses, st.sampled_from(["3104", "5182", None]), contents, sds)
def test_the_random_part_shrinks_as_one_over_root_n(n, k, mass, grade, content, sd):
    """k copies of each of n equal pieces: the random part falls by sqrt(k), the shared part stays."""
    one = lot_chemistry(_pieces([(mass, grade, content, sd)] * n), SHARED, name="x")
    many = lot_chemistry(_pieces([(mass, grade, content, sd)] * (n * k)), SHARED, name="x")
    assert many.random_sd_wt_pct["Mg"] == pytest.approx(one.random_sd_wt_pct["Mg"] / math.sqrt(k), rel=1e-9,
                                                         abs=1e-15)
    assert many.shared_sd_wt_pct["Mg"] == pytest.approx(one.shared_sd_wt_pct["Mg"], rel=1e-12)
    assert many.sd_of_mean_wt_pct["Mg"] >= one.shared_sd_wt_pct["Mg"] * (1 - 1e-12)


def test_the_stated_sd_matches_a_monte_carlo_of_the_error_model():
    """Simulate the error model the module states (a bias per grade per draw, a random error per piece)
    and compare the spread of the lot mean's error with the stated sd."""
    rng = np.random.default_rng(7)
    n = 40
    mass = rng.lognormal(-1.0, 0.6, n)
    grade = np.where(np.arange(n) < 30, "3104", "5182")
    truth = np.where(grade == "3104", 1.1, 4.5) + rng.normal(0, 0.1, n)
    sigma = rng.uniform(0.05, 0.3, n)
    beta = {"3104": 0.05, "5182": -0.1}
    tau = {"3104": 0.04, "5182": 0.1}
    shared = ShareBias({g: {"Mg": t} for g, t in tau.items()}, bias_wt_pct={g: {"Mg": b} for g, b in beta.items()})
    w = mass / mass.sum()
    true_mean = float(w @ truth)
    draws = 20_000
    # the two grades' residual biases move together (one plasma condition): one normal draw per heat
    z = rng.standard_normal(draws)
    bias = np.where(grade == "3104", beta["3104"], beta["5182"])[None, :] + \
        z[:, None] * np.where(grade == "3104", tau["3104"], tau["5182"])[None, :]
    estimates = truth[None, :] + bias + rng.standard_normal((draws, n)) * sigma[None, :]
    errors = []
    for k in range(0, draws, 2000):   # a few lots through the function, the rest through the same sums
        pieces = [PieceChemistry(float(m), str(g), {"Mg": float(e)}, {"Mg": float(s)})
                  for m, g, e, s in zip(mass, grade, estimates[k], sigma, strict=True)]
        lot = lot_chemistry(pieces, shared, name="mc")
        corrected = estimates[k] - np.where(grade == "3104", beta["3104"], beta["5182"])
        assert lot.mean_wt_pct["Mg"] == pytest.approx(float(w @ corrected), rel=1e-12)
    corrected = estimates - np.where(grade == "3104", beta["3104"], beta["5182"])[None, :]
    errors = corrected @ w - true_mean
    stated = lot.sd_of_mean_wt_pct["Mg"]
    assert abs(errors.mean()) < 4 * stated / math.sqrt(draws)
    assert errors.std() == pytest.approx(stated, rel=0.03)
    assert np.mean(np.abs(errors) <= 1.96 * stated) == pytest.approx(0.95, abs=0.01)
