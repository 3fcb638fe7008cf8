"""Spectrum preprocessing as scikit-learn transformers: resampling, baseline, normalisation, line features.

``grid`` holds the pure numpy maths (pixel edges, interpolation and window weights) that the
transformers and the onnxruntime serving path share; it imports no scikit-learn.
"""
