"""Log filters for uvicorn's error logger, installed once per process whatever the app count."""

from __future__ import annotations

import logging

from langchain_zilliz_bailian.server.storage import DataDirInUseError


class DropNoise(logging.Filter):
    """Hide uvicorn's complaint when we cut a stream on purpose (fault ``drop``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing response" not in record.getMessage()


class OneLineDataDirError(logging.Filter):
    """Log a data dir held by another server as its one-line message, not Starlette's traceback
    (the caller reports it too: ``LocalServer.start`` raises it, the CLI exits with it)."""

    marker = DataDirInUseError.__name__ + ": "

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if self.marker in text:
            last = text.rstrip().splitlines()[-1]
            record.msg, record.args, record.exc_info = last.split(self.marker, 1)[1], (), None
        return True


def install_log_filters() -> None:
    """Add each filter to ``uvicorn.error`` unless an instance of its class is already there."""
    logger = logging.getLogger("uvicorn.error")
    for kind in (DropNoise, OneLineDataDirError):
        if not any(isinstance(f, kind) for f in logger.filters):
            logger.addFilter(kind())
