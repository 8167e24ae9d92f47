"""When to repeat a request, and how long to wait first. The package's only retry policy.

Reads repeat on connection errors, timeouts, 408, 429 and 5xx. Writes (ingestion, deletion, create,
drop) repeat only when the request certainly had no effect (:func:`may_have_effect` is false): the
connection was never made, or the server throttled it (429). A write that timed out or got a 408 or
5xx may have been applied, and a repeated ingestion would store the data twice, so it is never
repeated. :func:`may_have_effect` is the package's one rule for "had this failed write an effect?".
"""

from __future__ import annotations

import email.utils
import enum
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import httpx

from langchain_zilliz_bailian.errors import (
    APIConnectionError,
    APIError,
    EndpointUnavailableError,
    InvalidInputError,
    RateLimitError,
    ResponseFormatError,
)

__all__ = ["NOT_SENT", "RequestKind", "RetryPolicy", "may_have_effect", "retry_after"]


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


def _causes(error: BaseException) -> Iterator[BaseException]:
    """``error``, then its ``__cause__``, and so on (a cycle ends the walk)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__


def may_have_effect(error: BaseException) -> bool:
    """Whether a failed write may have been applied all the same (then it is never repeated).

    No effect: bad input caught before sending, a gone endpoint, throttling (429), a 4xx refusal
    other than 408, an in-band refusal under a success status, and a transport failure whose cause
    chain holds one of :data:`NOT_SENT`. Anything else (a timeout, a reset, a 408 or 5xx, an
    answer that cannot be read, an unknown exception) may have had an effect.
    """
    if isinstance(error, RateLimitError | EndpointUnavailableError | InvalidInputError):
        return False
    if isinstance(error, ResponseFormatError):
        return True  # the server answered something unreadable: it may have stored it
    if isinstance(error, APIError):
        status = error.status_code
        if status is None or status == 408:
            return True
        return not (400 <= status < 500 or status < 300)
    if isinstance(error, APIConnectionError | httpx.TransportError):
        return not any(isinstance(cause, NOT_SENT) for cause in _causes(error))
    return True


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
            return kind is not RequestKind.WRITE or not may_have_effect(error)
        if isinstance(error, httpx.TransportError):
            return kind is RequestKind.READ or not may_have_effect(error)
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
