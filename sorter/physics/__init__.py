"""LIBS plasma physics in local thermodynamic equilibrium, as small pure functions.

One topic per module: ``partition`` (U(T)), ``saha`` (ionisation balance), ``boltzmann``
(level populations), ``line_profiles`` (Doppler, Stark, Voigt), ``radiative_transfer``
(emissivity, absorption, uniform slab), ``continuum`` (free-free and free-bound) and
``detector`` (pixels, response, noise). ``sorter.simulate`` composes them.
"""
