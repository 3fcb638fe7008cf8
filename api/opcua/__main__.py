"""``python -m api.opcua``: the OPC UA companion of ``aluloop serve`` (same ``ALULOOP_*`` settings)."""

import logging
import signal

from api.opcua.bridge import run
from api.settings import load_settings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s %(message)s")
    for noisy in ("asyncua", "asyncua.server", "asyncua.common"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, signal.default_int_handler)   # SIGTERM ends it like Ctrl-C
    run(load_settings())


if __name__ == "__main__":
    main()
