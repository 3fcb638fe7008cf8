import numpy as np
from numpy.testing import assert_allclose
from scipy.spatial.distance import mahalanobis
from sklearn.covariance import LedoitWolf

from sorter.training.ood import ClassMahalanobis


def test_distance_equals_scipy_mahalanobis_to_the_nearest_class_mean():
    rng = np.random.default_rng(1)
    Z = np.vstack([rng.normal(0, 1, (200, 5)), rng.normal(3, 1, (200, 5))])
    labels = np.array(["a"] * 200 + ["b"] * 200)
    m = ClassMahalanobis().fit(Z, labels)
    means = np.stack([Z[labels == c].mean(axis=0) for c in ("a", "b")])
    resid = Z - means[(labels == "b").astype(int)]
    VI = np.linalg.inv(LedoitWolf(assume_centered=True).fit(resid).covariance_)
    probe = rng.normal(1.5, 2, (20, 5))
    expected = [min(mahalanobis(x, mu, VI) for mu in means) / np.sqrt(5) for x in probe]
    assert_allclose(m.score(probe), expected, rtol=1e-8)


def test_far_points_score_higher_than_training_points():
    rng = np.random.default_rng(2)
    Z = rng.normal(0, 1, (500, 6))
    m = ClassMahalanobis().fit(Z, np.array(["a"] * 500))
    assert np.quantile(m.score(Z), 0.99) < m.score(np.full((1, 6), 6.0))[0]
