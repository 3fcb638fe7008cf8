"""The cone-program solver: HiGHS set-up, the program and solution types, cutting planes in
an extended formulation, and the certified active-set step.

Layers, lowest first: ``highs`` and ``program``; ``active_set``; ``outer_approximation``;
``cutting_planes``. Nothing here knows about alloys or lots: the charge models in
:mod:`blending` build a :class:`~blending.solver.program.LinearProgram` and read back a
:class:`~blending.solver.program.CutSolution`.
"""
