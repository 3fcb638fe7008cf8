"""The grade classifier is an ensemble of MLPs whose softmax outputs are averaged."""

import numpy as np
import pytest
from numpy.testing import assert_allclose


def _forward(mlp, Z):
    """An MLP's class probabilities by hand: ReLU hidden layers, softmax output."""
    a = Z
    for W, b in zip(mlp.coefs_[:-1], mlp.intercepts_[:-1], strict=True):
        a = np.maximum(a @ W + b, 0.0)
    logits = a @ mlp.coefs_[-1] + mlp.intercepts_[-1]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_probabilities_are_the_mean_of_the_members_forward_passes(toy_model, toy_data):
    _, (X, *_) = toy_data
    Z = toy_model.scaler_.transform(toy_model.features(X))
    members = toy_model.classifier_.estimators_
    assert len(members) == toy_model.n_members == 5
    by_hand = np.mean([_forward(m, Z) for m in members], axis=0)
    assert_allclose(toy_model.predict_proba(X), by_hand, atol=1e-10)


def test_members_start_from_different_seeds(toy_model, toy_data):
    _, (X, *_) = toy_data
    Z = toy_model.scaler_.transform(toy_model.features(X))
    seeds = [m.random_state for m in toy_model.classifier_.estimators_]
    assert seeds == [toy_model.random_state + k for k in range(toy_model.n_members)]
    first, second = (_forward(m, Z) for m in toy_model.classifier_.estimators_[:2])
    assert np.abs(first - second).max() > 1e-6


def test_an_empty_ensemble_is_refused(toy_data):
    from sorter.training.model import LibsModel
    from tests.support.libs_fixtures import GRID

    (X, y, Y, el), _ = toy_data
    with pytest.raises(ValueError, match="n_members: 0 must be at least 1"):
        LibsModel(GRID, n_members=0).fit(X, y, Y, el)
