"""Heat reports for quality staff.

``builder`` makes the report, ``render`` writes it (HTML, PDF, CSV, the SVG plot), ``approval`` reviews it.
"""
