"""Experiments, bounds and reference implementations that are not the product.

Nothing in ``aluloop``, ``sorter`` or ``blending`` imports this package (an import-linter
contract checks it); tests and benchmarks may, run from the repository root
(``python -m research.NAME``, ``python -m bench.NAME``; pytest puts the root on the path).
"""
