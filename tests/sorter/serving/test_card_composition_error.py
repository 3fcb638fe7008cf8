"""The model card's composition error (schema 3): how it is estimated, read, and that older cards still read."""

import json

import numpy as np
import pytest

from sorter.serving.card import CARD_SCHEMA_VERSION, ModelCard


def test_the_split_recovers_a_known_bias_random_and_condition_spread():
    """Residuals made from a known bias, a per-cell shift of known sd and a per-piece noise of known sd."""
    from sorter.training.composition_error import composition_error

    rng = np.random.default_rng(3)
    cells, per_cell, beta, tau, sigma = 60, 40, 0.05, 0.02, 0.1
    shift = rng.normal(0, tau, cells)
    cell = np.repeat(np.arange(cells), per_cell)
    true = rng.uniform(0.8, 1.3, cell.size)[:, None]
    estimate = true + beta + shift[cell][:, None] + rng.normal(0, sigma, (cell.size, 1))
    out = composition_error(["3104"] * cell.size, cell, true, estimate, ["Mn"])["3104"]["Mn"]
    assert out["bias"] == pytest.approx(beta, abs=3 * np.hypot(tau, sigma / per_cell ** 0.5) / cells ** 0.5)
    assert out["random_sd"] == pytest.approx(sigma, rel=0.05)
    # shared: the spread of the cell means (condition spread and, not subtracted, their sampling noise),
    # with the standard error of the bias on top
    spread = np.hypot(tau, sigma / per_cell ** 0.5)
    assert out["shared_sd"] == pytest.approx(spread * (1 + 1 / cells) ** 0.5, rel=0.3)
    assert out["shared_sd"] >= tau
    assert out["n_pieces"] == cell.size and out["n_cells"] == cells


def test_with_no_condition_spread_the_shared_sd_is_the_cell_means_sampling_noise():
    """The safe side: a spread the cells cannot resolve is stated, not assumed away."""
    from sorter.training.composition_error import composition_error

    rng = np.random.default_rng(4)
    cell = np.repeat(np.arange(30), 20)
    estimate = rng.normal(0.0, 0.1, (cell.size, 1))
    out = composition_error(["5182"] * cell.size, cell, np.zeros((cell.size, 1)), estimate, ["Mg"])["5182"]["Mg"]
    assert out["shared_sd"] == pytest.approx(0.1 / 20 ** 0.5, rel=0.35)


def test_unknown_pieces_are_left_out_of_the_grades():
    from sorter.training.composition_error import composition_error

    out = composition_error(["", "", "6063", "6063", "6063", "6063"], [0, 1, 0, 0, 1, 1],
                            np.zeros((6, 1)), np.array([[5.0], [5.0], [0.1], [0.2], [0.1], [0.3]]), ["Si"])
    assert set(out) == {"6063"} and out["6063"]["Si"]["bias"] == pytest.approx(0.175)


def test_the_bundled_cards_state_the_error_of_every_aluminium_grade():
    from sorter.serving.families import is_aluminium
    from sorter.serving.registry import bundled_cards

    for _, card in bundled_cards().values():
        assert card.schema_version == CARD_SCHEMA_VERSION == 4
        figures = card.lot_error()
        grades = {g for g in card.classes if is_aluminium(g)}
        assert grades <= set(figures["sd_wt_pct"])
        for grade in grades:
            for el in ("Si", "Fe", "Cu", "Mn", "Mg", "Zn"):
                assert figures["sd_wt_pct"][grade][el] >= 0 and figures["random_sd_wt_pct"][grade][el] > 0
                assert abs(figures["bias_wt_pct"][grade][el]) < 1.0
        # an unknown piece may be anything from pure aluminium to a casting alloy: a wide prior
        assert figures["unknown_sd_wt_pct"]["Si"] > 1.0


def test_a_version_2_card_without_the_figures_still_reads(tmp_path):
    from sorter.serving.registry import bundled_cards

    path, card = bundled_cards()["broadband"]
    data = json.loads(card.to_json())
    data["schema_version"] = 2
    del data["composition_error"]
    (tmp_path / "old.card.json").write_text(json.dumps(data))
    old = ModelCard.read(tmp_path / "old.card.json")
    assert old.composition_error == {}
    assert old.lot_error() == {"sd_wt_pct": {}, "bias_wt_pct": {}, "unknown_sd_wt_pct": {}, "random_sd_wt_pct": {},
                               "unknown_wt_pct": {}}
    data["schema_version"] = 1
    (tmp_path / "older.card.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="schema_version 1 is older than this aluloop reads"):
        ModelCard.read(tmp_path / "older.card.json")
