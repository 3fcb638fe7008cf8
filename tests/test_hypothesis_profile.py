"""tests/conftest.py loads a derandomised Hypothesis profile without a deadline when CI is set, and
`.ci/run` (which sets CI) runs every test, the ``slow`` ones included."""

import os
import subprocess
import sys

from tests.support.cli import CHECKOUT, checkout_env

SHOW = "import tests.conftest; from hypothesis import settings as s; print(s.default.derandomize, s.default.deadline)"


def _profile(**env: str) -> str:
    base = {k: v for k, v in checkout_env().items() if k not in ("CI", "HYPOTHESIS_PROFILE")}
    return subprocess.run([sys.executable, "-c", SHOW], capture_output=True, text=True, check=True, cwd=CHECKOUT,
                          env={**base, **env}).stdout.split()


def test_ci_draws_the_same_examples_every_run_and_has_no_deadline():
    assert _profile(CI="true") == ["True", "None"]
    assert _profile(CI="1") == ["True", "None"]


def test_a_local_run_searches_at_random_without_a_deadline():
    assert _profile() == ["False", "None"]
    assert _profile(CI="") == ["False", "None"]


def test_the_profile_can_be_named():
    assert _profile(CI="true", HYPOTHESIS_PROFILE="dev") == ["False", "None"]


def test_this_run_uses_the_profile_its_environment_asks_for():
    from hypothesis import settings

    named = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
    assert settings.default.derandomize is (named == "ci")
    assert settings.default.deadline is None


def test_ci_runs_the_slow_tests_too_and_sets_ci():
    run = (CHECKOUT / ".ci" / "run").read_text()
    command = [line for line in run.splitlines() if "pytest" in line and not line.lstrip().startswith("#")]
    assert command == ["pip install -e '.[test]' && pytest -n 2"]          # no -m filter: slow tests run
    assert 'export CI="${CI:-true}"' in run
