"""pytest's root conftest: its folder, the repository root, goes on ``sys.path`` (pytest's rootdir
conftest rule), so tests import ``research`` and ``tests.support`` as packages. Neither is installed."""
