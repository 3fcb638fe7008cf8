"""Fixtures shared by the camera tests."""

from __future__ import annotations

import pytest

from tests.support.belt_scenes import belt, finish


@pytest.fixture(scope="module")
def segmenter_empty():
    return [finish(belt(s), s) for s in (10, 11, 12)]
