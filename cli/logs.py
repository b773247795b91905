"""How every ``shopfloor`` process logs: one format, and the protocol libraries kept to what matters."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format=FORMAT)
    if level != "DEBUG":
        # asyncua logs every request at INFO; our collectors log one line per link change instead.
        for chatty in ("asyncua", "pymodbus"):
            logging.getLogger(chatty).setLevel(logging.WARNING)
