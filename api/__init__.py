"""The sorting service: an HTTP front end over :class:`sorter.serving.Sorter` with durable piece records.

``api.main.create_app(settings)`` builds the FastAPI app; ``aluloop serve`` runs it under uvicorn.
Routes stay thin: they validate, call the sorter and the persistence layer (``api.db``), and
turn library errors into RFC 9457 problem bodies (``api.problems``).
"""
