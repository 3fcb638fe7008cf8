import json

import pytest

from blending.errors import AluloopError, InputError
from sorter.serving.card import CARD_SCHEMA_VERSION, ModelCard, ModelIntegrityError, card_path_for, sha256_file
from sorter.serving.runtime import LibsRuntime


def test_card_names_the_model_file_hash(toy_trained):
    card = ModelCard.read(toy_trained.card_path)
    assert card.model_sha256 == sha256_file(toy_trained.model_path)
    assert card_path_for(toy_trained.model_path) == toy_trained.card_path
    for key in ("classes", "instrument", "wavelength_grid_nm", "training_data", "metrics", "libraries"):
        assert getattr(card, key)
    assert card.training_data["sha256"] and card.libraries["onnxruntime"]


def test_a_changed_model_file_is_refused(toy_trained, tmp_path):
    bad = tmp_path / "toy.onnx"
    data = bytearray(toy_trained.model_path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    (tmp_path / "toy.card.json").write_text(toy_trained.card_path.read_text())
    with pytest.raises(ModelIntegrityError, match="does not match the model card"):
        LibsRuntime.load(bad)


def test_a_card_without_hash_is_refused(toy_trained, tmp_path):
    card = json.loads(toy_trained.card_path.read_text())
    card["model_sha256"] = ""
    (tmp_path / "toy.card.json").write_text(json.dumps(card))
    (tmp_path / "toy.onnx").write_bytes(toy_trained.model_path.read_bytes())
    with pytest.raises(ModelIntegrityError, match="no sha256"):
        LibsRuntime.load(tmp_path / "toy.onnx")


def test_a_broken_card_names_the_file(tmp_path):
    (tmp_path / "x.card.json").write_text("{not json")
    with pytest.raises(ValueError, match="x.card.json: not valid JSON"):
        ModelCard.read(tmp_path / "x.card.json")


def test_training_is_reproducible_to_the_byte(toy_data, toy_trained, tmp_path):
    """Same data, same seed: the same ONNX bytes, so a card's sha256 identifies the model."""
    import warnings

    from sorter.training.data import TrainingData
    from sorter.training.train import train
    from tests.support.libs_fixtures import GRID

    (X, y, Y, el), _ = toy_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = train(TrainingData(GRID, X, y, el, Y, "toy-instrument", "toy", 65535.0), tmp_path / "toy.onnx",
                      max_iter=150, hidden_layer_sizes=(32,))
    assert again.card.model_sha256 == toy_trained.card.model_sha256
    assert again.card.training_data["sha256"] == toy_trained.card.training_data["sha256"]


def test_the_card_footprints_are_the_graphs_own(toy_trained):
    """The footprints training writes are read back from the ONNX weights alone, and hold window and bands."""
    import numpy as np

    from sorter.training.onnx_export import window_footprints_from_graph

    card = toy_trained.card
    from_graph = window_footprints_from_graph(toy_trained.model_path.read_bytes(), card.wavelength_grid_nm,
                                              len(card.line_windows))
    written = np.array([[w["footprint_lo_nm"], w["footprint_hi_nm"]] for w in card.line_windows])
    np.testing.assert_array_equal(written, from_graph)
    step = float(np.median(np.diff(card.wavelength_grid_nm)))
    for w, win in zip(card.line_windows, toy_trained.model.lines_.windows_, strict=True):
        (left_lo, _), (_, right_hi) = win.bands
        assert w["footprint_lo_nm"] <= left_lo + step and w["footprint_hi_nm"] >= right_hi - step


def test_a_card_of_a_newer_schema_is_refused(toy_trained, tmp_path):
    card = json.loads(toy_trained.card_path.read_text())
    assert card["schema_version"] == CARD_SCHEMA_VERSION
    card["schema_version"] = CARD_SCHEMA_VERSION + 1
    (tmp_path / "new.card.json").write_text(json.dumps(card))
    with pytest.raises(InputError, match=f"schema_version {CARD_SCHEMA_VERSION + 1} is newer than this aluloop "
                                         f"reads \\({CARD_SCHEMA_VERSION}\\); upgrade aluloop"):
        ModelCard.read(tmp_path / "new.card.json")


def test_a_card_without_a_schema_version_is_refused(toy_trained, tmp_path):
    card = json.loads(toy_trained.card_path.read_text())
    del card["schema_version"]
    (tmp_path / "old.card.json").write_text(json.dumps(card))
    with pytest.raises(InputError, match="old.card.json: no schema_version"):
        ModelCard.read(tmp_path / "old.card.json")


def test_the_bundled_cards_are_current_and_match_their_models():
    from sorter.serving.registry import bundled_cards

    cards = bundled_cards()
    assert set(cards) == {"broadband", "highres"}
    for path, card in cards.values():
        assert card.schema_version == CARD_SCHEMA_VERSION
        assert sha256_file(path) == card.model_sha256
        assert all("footprint_lo_nm" in w and "footprint_hi_nm" in w for w in card.line_windows)


def test_an_integrity_error_is_an_aluloop_error_not_an_input_error():
    assert issubclass(ModelIntegrityError, AluloopError) and not issubclass(ModelIntegrityError, InputError)
