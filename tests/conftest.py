"""Suite-wide settings: the Hypothesis profiles, and the ``slow`` marker on tests that train
(registered in pyproject.toml).

With ``CI`` set (any value but empty, as every CI service sets it) the ``ci`` profile is loaded:
derandomised, so a CI run draws the same examples every time and a failure reproduces from the
log, and without a deadline, since two workers on a shared machine make any per-example time
limit flaky. Locally the ``dev`` profile keeps Hypothesis's random search (its database replays
past failures) and only lifts the deadline. ``HYPOTHESIS_PROFILE`` picks a profile explicitly.
"""

import os

from hypothesis import settings

# both from Hypothesis's own defaults: under CI, Hypothesis >= 6.1xx makes its built-in "ci"
# profile the default, which a profile registered without a parent would inherit
settings.register_profile("ci", settings.get_profile("default"), derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", settings.get_profile("default"), deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))



# session fixtures of tests/sorter/conftest.py that train a toy model (seconds each, once per worker)
TRAINING_FIXTURES = {"toy_model", "toy_trained"}


def pytest_collection_modifyitems(config, items):
    """Mark ``slow`` every test that trains, through a training fixture (the others are marked where written)."""
    import pytest

    for item in items:
        if TRAINING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
