"""The README's Python examples run as written and print what the README says (doctest)."""

from __future__ import annotations

import doctest
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_python_examples_print_what_they_show(monkeypatch):
    monkeypatch.chdir(ROOT)  # the examples use paths relative to the repository root
    monkeypatch.delenv("ALULOOP_MODELS", raising=False)
    result = doctest.testfile(str(ROOT / "README.md"), module_relative=False, verbose=False,
                              optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 6, "the README lost its Python examples"
    assert result.failed == 0


def test_readme_is_a_guide_not_a_history():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 300
    assert lines[0].startswith("# aluloop") and os.path.exists(ROOT / "CHANGELOG.md")
