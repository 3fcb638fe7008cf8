"""Experiments and bounds on the sorter: not part of the product, never imported by ``sorter``,
``blending`` or ``aluloop``, and not installed. Run a script from the repository root as
``python -m research.NAME``; tests import the scenario fixtures from ``research.scenarios``."""
