"""Flow's `connectorStatus` events: a log line whose fields carry `eventType:
connectorStatus`. The control plane keeps a task's latest one and shows it as what the
connector is doing now (e.g. how many streams are still being read)."""

from __future__ import annotations

import logging


def connector_status(log: logging.Logger, message: str) -> None:
    """Report what the connector is doing now, in a sentence."""
    log.info("%s", message, extra={"eventType": "connectorStatus"})
