"""Experiments, bounds and reference implementations that are not the product.

Nothing in ``aluloop``, ``sorter`` or ``blending`` imports this package (an import-linter
contract checks it), and it is not installed. Run a script from the repository root as
``python -m research.NAME``; tests and benchmarks import from it (the information bound and
scenario fixtures of the sorter, the cvxpy reference solvers and synthetic heats of the blender).
"""
