"""Zilliz's integer error codes (the v1 REST family, "Possible Errors"), read by ``envelope.py``.

Zilliz reports errors in-band, often under HTTP 200, so the code decides the error type; a code
not listed here falls back to the HTTP status (``errors.STATUS_TABLE``).
"""

from __future__ import annotations

from langchain_zilliz_bailian.errors import (
    AuthenticationError,
    BadRequestError,
    CodeTable,
    ErrorRow,
    NotFoundError,
)

__all__ = ["ZILLIZ_CODES"]

ZILLIZ_CODES = CodeTable(
    exact={
        80000: ErrorRow(BadRequestError, False),
        80001: ErrorRow(AuthenticationError, False),
        80002: ErrorRow(AuthenticationError, False),
        80020: ErrorRow(NotFoundError, False),
    }
)
