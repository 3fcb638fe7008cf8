"""Prometheus metrics of the service.

With several workers each process counts on its own; ``aluloop serve`` then sets
``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` adds up every worker's files
(prometheus_client's multiprocess mode). The unknown rate of a line is
``sum(rate(aluloop_pieces_total{decision="unknown"}[5m])) / sum(rate(aluloop_pieces_total[5m]))``.
"""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REQUEST_SECONDS = Histogram(
    "aluloop_request_seconds", "Request latency by route and status [s]", ["method", "route", "status"],
    buckets=(0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
IN_FLIGHT = Gauge("aluloop_requests_in_flight", "HTTP requests being served", multiprocess_mode="livesum")
PIECES = Counter("aluloop_pieces_total", "Pieces classified and recorded (re-sent pieces not counted)",
                 ["line_id", "grade", "decision", "state"])

_CHILDREN: dict[tuple, object] = {}


def child(metric, *values: str):
    """``metric.labels(*values)``, kept per label values: ``labels`` checks and converts the values
    and takes a lock on every call; the child it returns is the same object each time (none of the
    service's metrics is ever cleared), so one dictionary read does. As many entries as the metric
    itself has children."""
    key = (id(metric), *values)
    found = _CHILDREN.get(key)
    if found is None:
        found = _CHILDREN[key] = metric.labels(*values)
    return found


def exposition() -> tuple[bytes, str]:
    """The metrics text and its content type: this process's, or every worker's in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
