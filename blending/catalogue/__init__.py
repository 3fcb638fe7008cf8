"""The alloy and materials catalogue: compositions, alloy specifications, charge materials and
the CSV tables they are read from.

This is the part of ``blending`` that ``sorter`` may read (grades are sampled inside the
catalogue limits); it imports no solver.
"""
