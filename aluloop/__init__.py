"""The ``aluloop`` command line: sorting, blending and reporting from one tool."""
