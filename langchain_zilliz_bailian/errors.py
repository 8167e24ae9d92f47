"""The package's public error and warning tree, and how server errors are classified.

Importable without LangChain or LlamaIndex. Every error the package raises is a
:class:`ZillizBailianError`; every warning it emits is a ``UserWarning`` listed here::

    ZillizBailianError
    ├── InvalidInputError (also ValueError)        bad input, caught before any request
    │   ├── PipelineTypeError                      a pipeline of the wrong type for the job
    │   ├── UnsupportedFilterError                 a LlamaIndex filter Milvus cannot express
    │   └── ToolCallingUnsupportedError            tools bound to a Bailian app (also
    │                                              NotImplementedError)
    ├── PipelineNotServingError                    the pipeline exists but is not SERVING
    ├── APIError                                   the server answered with an error
    │   ├── BadRequestError
    │   ├── AuthenticationError
    │   ├── PermissionDeniedError                  also billing (Arrearage, ...)
    │   ├── NotFoundError
    │   ├── RequestTimeoutError
    │   ├── RateLimitError
    │   ├── InternalServerError
    │   └── ResponseFormatError                    an answer that breaks the contract
    ├── APIConnectionError                         no answer: connect, read or protocol failure
    │   ├── APITimeoutError                        a timeout or ``total_timeout`` passed
    │   └── StreamInterruptedError                 a stream cut before its last event
    ├── EndpointUnavailableError                   the hosted endpoint is gone (a 404 or no route)
    └── PartialBatchError                          an ingestion stored some items, not all

    UserWarning
    ├── InsecureBaseURLWarning                     plain http to a host other than this machine
    └── CumulativeStreamWarning                    cumulative text where deltas were asked for

The local server's own errors (``langchain_zilliz_bailian.server``) are not part of this tree:
they are answered to clients as envelopes, which the clients turn back into these.

Both services are covered: Zilliz reports errors in-band with integer codes (often under HTTP
200), DashScope with string codes and real HTTP statuses. Errors are classified by ``code`` first
and HTTP status second, because the status alone misleads (a DashScope 429 can be a permanent
billing error; a Zilliz 200 can carry "The token is illegal."). Each vendor's code table lives
beside its envelope parser (``zilliz/codes.py``, ``bailian/codes.py``) and is passed to
:func:`classify`; the HTTP status table here is shared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CodeTable",
    "CumulativeStreamWarning",
    "EndpointUnavailableError",
    "ErrorRow",
    "InsecureBaseURLWarning",
    "InternalServerError",
    "InvalidInputError",
    "NO_CODES",
    "NotFoundError",
    "PartialBatchError",
    "PermissionDeniedError",
    "PipelineNotServingError",
    "PipelineTypeError",
    "RateLimitError",
    "RequestTimeoutError",
    "ResponseFormatError",
    "StreamInterruptedError",
    "ToolCallingUnsupportedError",
    "UnsupportedFilterError",
    "ZillizBailianError",
    "classify",
]

ErrorCode = int | str | None


class ZillizBailianError(Exception):
    """Base of every error this package raises.

    When an ingestion (the loader or the reader) stops before storing anything, the error that
    stopped it is raised as it is, so ``except AuthenticationError`` (or ``NotFoundError``,
    ``InvalidInputError``, ...) catches it, and it carries what was not stored: ``failed`` lists
    every item handed in, as given (texts, URLs, paths, images), so they can be sent again;
    ``unknown_outcome`` those of them whose write may have been applied all the same (a timeout
    or a 5xx); ``failed_units`` the requests they formed. Any other error leaves them empty. A run
    that stored something raises :class:`PartialBatchError`, which has the same three fields.
    """

    #: Items of an ingestion this error left unstored, as given (empty unless raised by one).
    failed: Sequence[Any] = ()
    #: Those of ``failed`` whose write may have been applied anyway (check before re-sending).
    unknown_outcome: Sequence[Any] = ()
    #: The requests (``ingestion.Unit``) ``failed`` formed, with the fields each was sent with.
    failed_units: Sequence[Any] = ()


class InvalidInputError(ZillizBailianError, ValueError):
    """Bad input caught before any request was sent."""


class PipelineTypeError(InvalidInputError):
    """A pipeline of the wrong type for the job, found by describing it before its first run.

    ``expected`` is the type the job needs and ``actual`` the pipeline's (``INGESTION``,
    ``SEARCH`` or ``DELETION``): an ingestion id given to a retriever, a search id given to a
    loader, a search id given as ``deletion_pipeline_id``. Nothing was run.
    """

    def __init__(self, pipeline_id: str, expected: str, actual: str) -> None:
        self.pipeline_id = pipeline_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"Pipeline {pipeline_id} is of type {actual}, but {expected} is expected here: pass "
            f"the id of the {expected} pipeline (each pipeline set has one of each type)."
        )

    def __reduce__(self) -> tuple[Any, ...]:
        """Picklable with its fields (and any ``failed`` items an ingestion attached)."""
        return (type(self), (self.pipeline_id, self.expected, self.actual), self.__dict__.copy())


class UnsupportedFilterError(InvalidInputError):
    """A metadata filter that has no exact Milvus equivalent (raised before any request)."""


class ToolCallingUnsupportedError(InvalidInputError, NotImplementedError):
    """Tools (or a structured-output schema) given to a Bailian app, which runs its own.

    Also a ``NotImplementedError``, what ``bind_tools`` raised before, so existing handlers
    keep catching it.
    """


class PipelineNotServingError(ZillizBailianError):
    """The pipeline's status is not ``SERVING``, so it cannot run (Z35)."""


class APIError(ZillizBailianError):
    """The server answered, and the answer is an error.

    ``status_code`` is the HTTP status (for a DashScope mid-stream error, the one in the event's
    ``:HTTP_STATUS/NNN`` comment); ``code`` the server's own code (int for Zilliz, str for
    DashScope); ``request_id`` the server's request id when it sent one; ``body`` the raw body text.
    """

    #: Whether repeating the same request may succeed (set per instance by :func:`classify`).
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: ErrorCode = None,
        request_id: str | None = None,
        body: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.code = code
        self.request_id = request_id
        self.body = body
        if retryable is not None:
            self.retryable = retryable
        super().__init__(message)

    def __str__(self) -> str:
        parts = []
        if self.status_code is not None:
            parts.append(f"HTTP {self.status_code}")
        if self.code is not None:
            parts.append(f"code={self.code!r}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        where = f" ({', '.join(parts)})" if parts else ""
        return f"{self.message}{where}"


class BadRequestError(APIError):
    """The request was malformed or refused as invalid (HTTP 400, 413, 415, 422; Zilliz 80000)."""


class AuthenticationError(APIError):
    """The API key was missing, wrong or for another region (HTTP 401; Zilliz 80001/80002)."""


class PermissionDeniedError(APIError):
    """The key may not use this resource, or the account cannot be billed (HTTP 403)."""


class NotFoundError(APIError):
    """The app, pipeline, workspace or path does not exist (HTTP 404/410)."""


class RequestTimeoutError(APIError):
    """The server gave up on the request (HTTP 408); safe to retry for reads."""


class RateLimitError(APIError):
    """Throttled (HTTP 429 with a throttling code); retried with backoff where allowed."""


class InternalServerError(APIError):
    """The server or the app's pipeline failed (HTTP 5xx)."""


class ResponseFormatError(APIError):
    """The server answered with a body this package cannot understand (HTML, missing keys, ...)."""


class APIConnectionError(ZillizBailianError):
    """No usable answer arrived: DNS, refused connection, reset, or a broken stream."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        self.message = message
        self.url = url
        super().__init__(message)


class APITimeoutError(APIConnectionError):
    """A connect, read or write timeout. For an ingestion the outcome is unknown."""


class StreamInterruptedError(APIConnectionError):
    """A stream ended before its final event; the deltas that arrived were already handed on."""


class EndpointUnavailableError(ZillizBailianError):
    """Mixin: the endpoint is gone (Zilliz discontinued hosted Cloud Pipelines in 2025).

    Raised together with :class:`NotFoundError` (404/410) or :class:`APIConnectionError`
    (unreachable host), so code catching either keeps working.
    """


class _EndpointNotFound(NotFoundError, EndpointUnavailableError):
    """A 404/410 from a host where hosted Pipelines used to live."""


class _EndpointUnreachable(APIConnectionError, EndpointUnavailableError):
    """A refused connection or DNS failure on a host where hosted Pipelines used to live."""


class PartialBatchError(ZillizBailianError):
    """An ingestion failed after storing something: ``stored`` lists what the server kept,
    ``failed`` what it did not (a run that stored nothing raises its cause, see
    :class:`ZillizBailianError`).

    ``cause`` is the error that stopped the batch. Nothing is lost silently: every item handed in
    is in ``stored`` or in ``failed``; items whose outcome is unknown (a write that timed out or
    got a 5xx may still have been applied) are in ``failed`` and also in ``unknown_outcome``.
    ``failed`` and ``unknown_outcome`` hold the items as they were given (texts, URLs, paths,
    images), so they can be sent again; ``failed_units`` adds the fields each was sent with.
    """

    def __init__(
        self,
        message: str,
        *,
        stored: Sequence[Any] = (),
        failed: Sequence[Any] = (),
        cause: BaseException | None = None,
        unknown_outcome: Sequence[Any] = (),
        failed_units: Sequence[Any] = (),
    ) -> None:
        self.message = message
        self.stored = list(stored)
        self.failed = list(failed)
        self.cause = cause
        self.unknown_outcome = list(unknown_outcome)
        self.failed_units = list(failed_units)
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        """Picklable (multiprocessing, task queues) despite the keyword-only fields."""
        return (_rebuild_partial, (self.message, self.__dict__.copy()))


def _rebuild_partial(message: str, state: dict[str, Any]) -> PartialBatchError:
    error = PartialBatchError(message)
    error.__dict__.update(state)
    return error


# --------------------------------------------------------------------------------------------------
class InsecureBaseURLWarning(UserWarning):
    """A plain-http base URL names a host other than this machine: the key would travel in clear."""


class CumulativeStreamWarning(UserWarning):
    """The server sent cumulative text where deltas were asked for, or rewrote earlier text."""


# Classification. A vendor's envelope parser passes its own :class:`CodeTable` (Zilliz's integer
# codes in ``zilliz/codes.py``, DashScope's string codes in ``bailian/codes.py``); this module keeps
# what is generic: the HTTP status table and the order of the rules. First match wins: exact code,
# code prefix, HTTP status. ``retryable`` says whether the same request may succeed later.


@dataclass(frozen=True)
class ErrorRow:
    """One row of a classification table: the error type and whether a retry may succeed."""

    error: type[APIError]
    retryable: bool


@dataclass(frozen=True)
class CodeTable:
    """A vendor's error codes: exact ones, then prefixes of code families (``Throttling.*``)."""

    exact: Mapping[int | str, ErrorRow] = field(default_factory=dict)
    prefixes: Sequence[tuple[str, ErrorRow]] = ()


#: No vendor codes: classify by HTTP status (and message) alone.
NO_CODES = CodeTable()

#: HTTP statuses, used when the code is absent or unknown.
STATUS_TABLE: Mapping[int, ErrorRow] = {
    400: ErrorRow(BadRequestError, False),
    401: ErrorRow(AuthenticationError, False),
    403: ErrorRow(PermissionDeniedError, False),
    404: ErrorRow(NotFoundError, False),
    408: ErrorRow(RequestTimeoutError, True),
    410: ErrorRow(NotFoundError, False),
    413: ErrorRow(BadRequestError, False),
    415: ErrorRow(BadRequestError, False),
    422: ErrorRow(BadRequestError, False),
    429: ErrorRow(RateLimitError, True),
}

_SERVER_ERROR = ErrorRow(InternalServerError, True)
_UNKNOWN = ErrorRow(APIError, False)
_AUTH_MESSAGES = ("token is illegal", "token is invalid", "invalid api-key", "invalid api key")


def _row_for(code: ErrorCode, status_code: int | None, message: str, codes: CodeTable) -> ErrorRow:
    if code is not None and code in codes.exact:
        return codes.exact[code]
    if isinstance(code, str):
        for prefix, row in codes.prefixes:
            if code == prefix or code.startswith(prefix + "."):
                return row
    if status_code is not None and status_code in STATUS_TABLE:
        return STATUS_TABLE[status_code]
    if status_code is not None and status_code >= 500:
        return _SERVER_ERROR
    # An error under a success status and code (contract Z2): the message is all there is.
    if any(text in message.lower() for text in _AUTH_MESSAGES):
        return ErrorRow(AuthenticationError, False)
    return _UNKNOWN


def classify(
    *,
    message: str,
    status_code: int | None,
    code: ErrorCode = None,
    request_id: str | None = None,
    body: str | None = None,
    codes: CodeTable = NO_CODES,
) -> APIError:
    """Build the typed error for a server answer: by ``code`` first (looked up in the vendor's
    ``codes``), HTTP status second."""
    row = _row_for(code, status_code, message, codes)
    return row.error(
        message or "The server reported an error without a message.",
        status_code=status_code,
        code=code,
        request_id=request_id,
        body=body,
        retryable=row.retryable,
    )


def endpoint_not_found(message: str, *, status_code: int, body: str | None) -> APIError:
    """A 404/410 that means the hosted endpoint is gone (see :class:`EndpointUnavailableError`)."""
    return _EndpointNotFound(message, status_code=status_code, body=body, retryable=False)


def endpoint_unreachable(message: str, *, url: str) -> APIConnectionError:
    """A connection failure that means the hosted endpoint is gone."""
    return _EndpointUnreachable(message, url=url)


def __getattr__(name: str) -> Any:
    """``CODE_TABLE`` / ``CODE_PREFIX_TABLE``, the names the tables had here: both vendors' rows.

    Built on first use from ``zilliz/codes.py`` and ``bailian/codes.py`` (which import this
    module, so they cannot be imported at the top).
    """
    if name not in ("CODE_TABLE", "CODE_PREFIX_TABLE"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from langchain_zilliz_bailian.bailian.codes import DASHSCOPE_CODES
    from langchain_zilliz_bailian.zilliz.codes import ZILLIZ_CODES

    if name == "CODE_TABLE":
        return {**ZILLIZ_CODES.exact, **DASHSCOPE_CODES.exact}
    return (*ZILLIZ_CODES.prefixes, *DASHSCOPE_CODES.prefixes)
