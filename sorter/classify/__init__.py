"""Piece classification: grade, family, composition estimate, confidence and accept/unknown.

Training side (scikit-learn): ``model`` (the fitted pipeline), ``training``, ``onnx_export``.
Serving side (onnxruntime only, no scikit-learn import): ``runtime``, with ``card``,
``families`` and ``reject``. This package ``__init__`` imports nothing so the serving
path stays light.
"""
