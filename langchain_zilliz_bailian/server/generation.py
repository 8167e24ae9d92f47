"""Generation through any OpenAI-compatible chat-completions endpoint (Ollama, vLLM, llama.cpp,
DashScope compatible mode, OpenAI), streamed.

:class:`ChatModelClient` holds one pooled ``httpx.AsyncClient`` per server. Its ``stream`` sends
``stream: true`` with ``stream_options.include_usage`` and yields each content delta the moment
its SSE event arrives, then the model's usage. Every failure of the endpoint (an HTTP status, a
refused connection, a timeout, a malformed or truncated stream) is raised as a
:class:`.BailianError` carrying the code and status the app answers with; the endpoint's key is
read from the named environment variable at call time and never appears in a message.

Reads are bounded: an error body is read up to :data:`MAX_ERROR_BODY` bytes (on the wire, and
again once inflated when an endpoint compresses it), and a whole stream (connecting, the head,
every event) has a total deadline (the endpoint's ``deadline_s``, else
:data:`DEFAULT_STREAM_DEADLINE_S`) on top of httpx's per-read limit, so an endpoint trickling
bytes cannot hold a request forever.
"""

from __future__ import annotations

import contextlib
import json
import os
import zlib
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import httpx

from langchain_zilliz_bailian._http.pools import new_async_client
from langchain_zilliz_bailian._http.sse import aiter_events
from langchain_zilliz_bailian.server.apps import ModelEndpoint
from langchain_zilliz_bailian.server.errors import BailianError

__all__ = [
    "ChatModelClient",
    "Reasoning",
    "ModelUsage",
    "model_error",
]

#: Connect quickly or fail; a model may think a while before its first token (idle-read limit).
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=120.0, write=30.0, pool=10.0)
#: Seconds a whole model stream may take, however steadily it sends (a long answer from a slow
#: local model fits; an endpoint trickling keep-alives forever does not).
DEFAULT_STREAM_DEADLINE_S = 300.0
#: Bytes of a failing endpoint's error body that are read (the message shown is shorter still).
MAX_ERROR_BODY = 64 * 1024
_MAX_UPSTREAM_MESSAGE = 300
_T = TypeVar("_T")


@dataclass(frozen=True)
class ModelUsage:
    """The token counts one model reported, in Bailian's ``usage.models[]`` shape."""

    model_id: str
    input_tokens: int
    output_tokens: int

    def as_dict(self) -> dict[str, Any]:
        """``{"input_tokens", "output_tokens", "model_id"}`` (the recorded key order)."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "model_id": self.model_id,
        }


@dataclass(frozen=True)
class Reasoning:
    """A piece of a thinking model's reasoning (``reasoning_content``, or Ollama's
    ``reasoning``), streamed before or beside its answer."""

    text: str


def model_error(code: str, message: str, status: int) -> BailianError:
    """A model endpoint failure as the app reports it."""
    return BailianError(code, f"Model service failed: {message}", status)


def _scrubbed(text: str, secret: str | None) -> str:
    """``text`` shortened, without the key if the endpoint echoed it."""
    if secret:
        text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text[:_MAX_UPSTREAM_MESSAGE]


def _upstream_message(body: bytes, secret: str | None) -> str:
    """The endpoint's own error message (OpenAI's ``{"error": {"message"}}`` or plain text)."""
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        return _scrubbed(text, secret)
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            found = error.get("message") or error.get("msg")
            if isinstance(found, str):
                return _scrubbed(found, secret)
        elif isinstance(error, str):
            return _scrubbed(error, secret)
    return _scrubbed(text, secret)


async def _error_body(response: httpx.Response) -> bytes:
    """At most :data:`MAX_ERROR_BODY` bytes of ``response``'s body, read and decoded.

    The bytes on the wire are capped before anything is inflated, and a compressed body
    (requests ask for ``identity``, but an endpoint may compress anyway) is inflated only up to
    the cap: a small compressed error never becomes megabytes in memory.
    """
    raw = bytearray()
    async for piece in response.aiter_raw():
        raw += piece
        if len(raw) >= MAX_ERROR_BODY:
            break  # closing the response (the caller's) drops the rest
    del raw[MAX_ERROR_BODY:]
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return bytes(raw)
    if encoding not in ("gzip", "x-gzip", "deflate"):
        return f"(an error body in {encoding} encoding)".encode()
    try:  # gzip or zlib framing, detected from the header
        return zlib.decompressobj(zlib.MAX_WBITS | 32).decompress(bytes(raw), MAX_ERROR_BODY)
    except zlib.error:
        return f"(an error body in {encoding} encoding that does not decode)".encode()


def status_error(status: int, detail: str) -> BailianError:
    """An HTTP status from the endpoint: throttling stays 429 (retryable), an overloaded model
    503; anything else is the app's model failing (500 ``ModelServiceFailed``), never the
    caller's key."""
    message = f"the model endpoint answered HTTP {status}" + (f": {detail}" if detail else "")
    if status == 429:
        return model_error("Throttling.RateQuota", message, 429)
    if status == 503:
        return model_error("ModelUnavailable", message, 503)
    return model_error("ModelServiceFailed", message, 500)


def malformed(detail: str) -> BailianError:
    """A stream the endpoint broke off or filled with something other than chunks."""
    return model_error("ModelServiceFailed", f"malformed model stream: {detail}", 500)


def _api_key(endpoint: ModelEndpoint) -> str | None:
    """The key from the endpoint's environment variable; a named but unset variable is an error."""
    name = endpoint.api_key_env
    if not name:
        return None
    value = os.environ.get(name)
    if not value:
        raise model_error(
            "ModelServiceFailed", f"the environment variable {name} holds no API key", 500
        )
    return value


def _completions_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/chat/completions"


def _text_field(delta: dict[str, Any], *names: str) -> str:
    """The first of ``names`` ``delta`` holds, which must be a string (or null)."""
    for name in names:
        value = delta.get(name)
        if value is not None:
            if not isinstance(value, str):
                raise malformed(f"a delta's {name} is not a string")
            return value
    return ""


def _chunk_parts(data: Any) -> tuple[str, str, bool, dict[str, Any] | None, str | None]:
    """(content delta, reasoning delta, finished, usage, model) of one ``chat.completion.chunk``."""
    if not isinstance(data, dict):
        raise malformed("an event is not a JSON object")
    if "error" in data:
        error = data["error"]
        detail = error.get("message") if isinstance(error, dict) else error
        raise model_error("ModelServiceFailed", f"the model stream failed: {detail}", 500)
    choices = data.get("choices")
    if not isinstance(choices, list):
        raise malformed("a chunk has no choices")
    text = reasoning = ""
    finished = False
    for choice in choices:
        if not isinstance(choice, dict):
            raise malformed("a choice is not an object")
        delta = choice.get("delta") or {}
        if not isinstance(delta, dict):
            raise malformed("a delta is not an object")
        text += _text_field(delta, "content")
        reasoning += _text_field(delta, "reasoning_content", "reasoning")
        finished = finished or bool(choice.get("finish_reason"))
    usage = data.get("usage")
    model = data.get("model")
    return (
        text,
        reasoning,
        finished,
        usage if isinstance(usage, dict) else None,
        model if isinstance(model, str) and model else None,
    )


def _usage_of(raw: dict[str, Any], model_id: str) -> ModelUsage | None:
    """The counts of a usage object; None when they are not integers (the caller's estimate
    stands: a usage report is not worth failing an answer for)."""
    prompt = raw.get("prompt_tokens")
    completion = raw.get("completion_tokens")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return ModelUsage(model_id, prompt, completion)


class _Deadline:
    """One stream's total deadline: each awaited step gets what time is left."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._at = anyio.current_time() + seconds

    async def step(self, awaitable: Awaitable[_T]) -> _T:
        """``await awaitable``, or :class:`TimeoutError` once the deadline has passed."""
        with anyio.fail_after(max(0.0, self._at - anyio.current_time())):
            return await awaitable


class ChatModelClient:
    """Streams chat completions from OpenAI-compatible endpoints over one connection pool.

    ``timeout`` holds httpx's limits per connect and per read; ``deadline_s`` bounds a whole
    stream (default :data:`DEFAULT_STREAM_DEADLINE_S`; an endpoint's own ``deadline_s`` comes
    first), after which the answer fails with ``InternalError.Timeout``. ``transport`` replaces
    the network (tests).
    """

    def __init__(
        self,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        deadline_s: float = DEFAULT_STREAM_DEADLINE_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if deadline_s <= 0:
            raise ValueError("deadline_s must be positive")
        self.deadline_s = deadline_s
        if transport is None:
            self._http = new_async_client(timeout=timeout)
        else:
            self._http = httpx.AsyncClient(timeout=timeout, transport=transport)

    def __repr__(self) -> str:
        return "ChatModelClient()"

    async def aclose(self) -> None:
        """Close the pool (the server's lifespan does this on shutdown)."""
        await self._http.aclose()

    async def stream(
        self,
        endpoint: ModelEndpoint,
        messages: Sequence[Mapping[str, str]],
        sampling: Mapping[str, float | int] | None = None,
    ) -> AsyncIterator[str | Reasoning | ModelUsage]:
        """Yield content deltas (``str``) and reasoning (:class:`Reasoning`) as they arrive, then
        one :class:`ModelUsage` when the endpoint reported usage (servers that ignore
        ``include_usage`` send none). ``sampling`` (``temperature``, ``top_p``, ``seed``) goes
        into the request as given."""
        key = _api_key(endpoint)
        # identity: tokens are not held back by a compressor, and no chunk inflates unbounded
        headers = {"Accept": "text/event-stream", "Accept-Encoding": "identity"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        body: dict[str, Any] = {
            "model": endpoint.model,
            "messages": [dict(m) for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            **(sampling or {}),
        }
        model_id = endpoint.model
        usage: ModelUsage | None = None
        deadline_s = endpoint.deadline_s or self.deadline_s
        deadline = _Deadline(deadline_s)
        try:
            async with contextlib.AsyncExitStack() as stack:
                request = self._http.stream(
                    "POST", _completions_url(endpoint.base_url), json=body, headers=headers
                )
                response = await deadline.step(stack.enter_async_context(request))
                if response.status_code != 200:
                    raw = await deadline.step(_error_body(response))
                    raise status_error(response.status_code, _upstream_message(raw, key))
                done = finished = False
                events = aiter_events(response)
                while True:
                    # Only waits for the endpoint run under the deadline's cancel scope (never
                    # the caller's code between yields); its clock is the whole stream's.
                    try:
                        event = await deadline.step(events.__anext__())
                    except StopAsyncIteration:
                        break
                    if event.data.strip() == "[DONE]":
                        done = True
                        break
                    try:
                        data = json.loads(event.data)
                    except ValueError:
                        raise malformed("an event's data is not JSON") from None
                    text, reasoning, chunk_finished, raw_usage, model = _chunk_parts(data)
                    finished = finished or chunk_finished
                    model_id = model or model_id
                    if raw_usage is not None:
                        usage = _usage_of(raw_usage, model_id) or usage
                    if reasoning:
                        yield Reasoning(reasoning)
                    if text:
                        yield text
                if not (done or finished):
                    raise malformed("the stream ended before the model finished")
        except httpx.ConnectError:
            raise model_error(
                "ModelUnavailable", "the model endpoint refused the connection", 503
            ) from None
        except httpx.TimeoutException:
            raise model_error(
                "InternalError.Timeout", "the model endpoint timed out", 500
            ) from None
        except TimeoutError:
            raise model_error(
                "InternalError.Timeout",
                f"the model endpoint did not finish within {deadline_s:g} s",
                500,
            ) from None
        except httpx.HTTPError as exc:
            raise malformed(type(exc).__name__) from None
        if usage is not None:
            yield usage
