"""From LIBS spectrum (or camera frame) to a classified piece.

The data flow runs spectrum -> piece: `spectrum` holds one measured or
simulated emission spectrum; the simulator, preprocessing and classifier build
on it.
"""
