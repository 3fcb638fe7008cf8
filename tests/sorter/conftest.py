"""Toy models shared by the serving and training tests (trained once per session)."""

import pytest

from tests.support.libs_fixtures import GRID, toy_batch


@pytest.fixture(scope="session")
def toy_data():
    """(train, held-out) toy spectra on GRID: (X, labels, composition, elements)."""
    return toy_batch(GRID, 40, seed=0), toy_batch(GRID, 15, seed=1)


@pytest.fixture(scope="session")
def toy_model(toy_data):
    from sorter.training.model import LibsModel

    (X, y, Y, el), _ = toy_data
    return LibsModel(GRID, hidden_layer_sizes=(32,), max_iter=150).fit(X, y, Y, el)


@pytest.fixture(scope="session")
def toy_trained(toy_data, tmp_path_factory):
    """A toy model trained, exported and documented by ``training.train``."""
    import warnings

    from sorter.training.data import TrainingData
    from sorter.training.train import train

    (X, y, Y, el), _ = toy_data
    out = tmp_path_factory.mktemp("models") / "toy.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return train(TrainingData(GRID, X, y, el, Y, "toy-instrument", "toy", 65535.0), out, max_iter=150,
                     hidden_layer_sizes=(32,))
