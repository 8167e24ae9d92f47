"""When to repeat a request, and how long to wait first. The package's only retry policy.

Reads repeat on connection errors, timeouts, 408, 429 and 5xx. Writes (ingestion, deletion, create,
drop) repeat only when the request certainly had no effect: the connection was never made, or the
server throttled it (429). A write that timed out or got a 5xx may have been applied, and a repeated
ingestion would store the data twice, so it is never repeated.
"""

from __future__ import annotations

import email.utils
import enum
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from langchain_zilliz_bailian.errors import APIError, RateLimitError

__all__ = ["NOT_SENT", "RequestKind", "RetryPolicy"]


class RequestKind(enum.Enum):
    """Whether a request may be repeated after an unknown outcome."""

    READ = "read"
    WRITE = "write"
    #: A generation (an app call): it may run an agent's side effects and add a session turn, so
    #: it repeats on retryable server errors (throttling, 408, 5xx) and when nothing was sent,
    #: never after a read timeout or a reset, when the server may still be working on it.
    GENERATION = "generation"


#: Transport failures that happen before a single byte of the request left this machine.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_NOT_SENT = NOT_SENT


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with downward jitter; a ``Retry-After`` up to the cap wins."""

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def should_retry(self, kind: RequestKind, error: BaseException) -> bool:
        """Whether ``error`` (an httpx transport error or our :class:`APIError`) may be retried."""
        if isinstance(error, APIError):
            if not error.retryable:
                return False
            return kind in (RequestKind.READ, RequestKind.GENERATION) or isinstance(
                error, RateLimitError
            )
        if isinstance(error, NOT_SENT):
            return True
        if isinstance(error, httpx.TransportError):
            return kind is RequestKind.READ
        return False

    def delay(self, attempt: int, headers: Mapping[str, str] | None = None) -> float | None:
        """Seconds to wait before retry number ``attempt`` (0-based); ``None`` means give up.

        A server's ``Retry-After`` wins over the backoff; one asking for more than
        ``max_retry_after`` seconds is taken at its word and the call fails instead of hanging.
        """
        hinted = retry_after(headers) if headers is not None else None
        if hinted is not None:
            return hinted if hinted <= self.max_retry_after else None
        backoff: float = min(self.initial_delay * 2.0**attempt, self.max_delay)
        return backoff * (1 - 0.25 * random.random())


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Parse ``retry-after-ms``, then ``retry-after`` as seconds or as an HTTP date."""
    lowered = {key.lower(): value for key, value in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            milliseconds = float(millis)
        except ValueError:
            pass
        else:
            return max(milliseconds / 1000.0, 0.0)
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)
