"""What the routes call: sort rules and piece classification over :class:`sorter.serving.Sorter` and ``api.db``."""
