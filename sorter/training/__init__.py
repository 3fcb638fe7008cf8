"""Fitting what ``sorter.serving`` runs: training data, the scikit-learn model, ONNX export, evaluation.

``data`` (simulated, .npz or a plant's labelled folder), ``train`` (fit, tune, export, verify, write
the card and report), ``model`` and its parts (``composition``, ``ood``, ``plasma_terms``),
``augment``, ``state_reference``, ``onnx_export`` and ``evaluation``. May import ``sorter.serving``
(cards, reject rules, the runtime that checks the export); serving never imports this package.
This ``__init__`` imports nothing, so reading one module does not load scikit-learn.
"""
