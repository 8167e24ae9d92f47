"""LangChain-side fields and call logic shared by ``ChatBailianApp`` and ``BailianAppLLM``.

The app, connection and option fields, their checks, the client (``total_timeout`` included),
``close``/``aclose`` and the answer-metadata rule come from the framework-free
:class:`~langchain_zilliz_bailian.bailian.settings.AppSettings`. This mixin adds LangChain's own
fields (``streaming``, ``stop``, ``max_tokens``, ``model_kwargs``), serialization and tracing
parameters, and applies stop sequences; the two model classes only translate types.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, ClassVar, Literal

from langchain_core.language_models import LangSmithParams
from langchain_core.messages.ai import UsageMetadata
from pydantic import Field, model_validator

from langchain_zilliz_bailian.bailian import AppCompletion, AppOptions
from langchain_zilliz_bailian.bailian._constants import API_KEY_ENV
from langchain_zilliz_bailian.bailian.cited_answers import CitationParser
from langchain_zilliz_bailian.bailian.settings import AppSettings
from langchain_zilliz_bailian.bailian.stop import StopSequenceFilter, truncate_at_stop

__all__ = ["BailianAppMixin", "usage_metadata"]

#: Per-call keyword arguments LangChain or callers may pass that an app cannot use.
_IGNORED_KEYS = frozenset({"model", "max_tokens", "stream", "streaming", "stop"})

#: A streamed answer: each text piece, then once ``(result, metadata)``.
StreamItem = str | tuple[AppCompletion, dict[str, Any]]


def usage_metadata(completion: AppCompletion) -> UsageMetadata | None:
    """Token counts summed over ``usage.models``; ``None`` when the app reported none."""
    usage = completion.usage
    if not usage.models:
        return None
    return UsageMetadata(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
    )


class BailianAppMixin(AppSettings):
    """A Bailian app's settings plus LangChain's fields (mixed into the model classes)."""

    #: ``"chat"`` or ``"llm"``, for LangSmith.
    _ls_model_type: ClassVar[Literal["chat", "llm"]] = "chat"
    #: LangChain's ``Serializable.__init__`` adds a frame before the user's line.
    _warning_depth: ClassVar[int] = 6

    streaming: bool = False
    """Use the SSE stream even for ``invoke``."""
    max_tokens: int | None = None
    """Accepted for compatibility and reported to tracing; apps take no such parameter."""
    stop: list[str] | None = None
    """Stop sequences, applied on this side (the text is cut before the first one)."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Further ``parameters`` sent as given (``enable_thinking``, ``model_id``, ...)."""

    @model_validator(mode="before")
    @classmethod
    def _route_extra_kwargs(cls, values: Any) -> Any:
        """Unknown constructor arguments go to ``model_kwargs`` (sent as parameters), warning."""
        if not isinstance(values, dict):
            return values
        known = set()
        for name, field in cls.model_fields.items():
            known.update({name, field.alias} - {None})
        extra = {key: values[key] for key in list(values) if key not in known}
        if extra:
            warnings.warn(
                f"{sorted(extra)} are not fields of {cls.__name__}; they are sent to the app as "
                "`parameters` via model_kwargs.",
                UserWarning,
                stacklevel=5,  # the caller, past pydantic and the typed __init__
            )
            values = {key: value for key, value in values.items() if key in known}
            values["model_kwargs"] = {**extra, **(values.get("model_kwargs") or {})}
        return values

    # -- serialization ------------------------------------------------------------------------

    @property
    def lc_secrets(self) -> dict[str, str]:
        """The API key is serialized as a reference to its environment variable, never a value."""
        return {"api_key": API_KEY_ENV}

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """Serializable with ``langchain_core.load.dumpd`` (the key excluded)."""
        return True

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "app_id": self.app_id,
            "base_url": self.base_url,
            "workspace": self.workspace,
            "session_id": self.session_id,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "seed": self.seed,
            "rag_options": self.rag_options,
            **self.model_kwargs,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        """Tracing parameters; ``ls_model_name`` honours a per-call ``model`` override."""
        params = LangSmithParams(
            ls_provider="bailian",
            ls_model_name=str(kwargs.get("model") or self.model_name),
            ls_model_type=self._ls_model_type,
        )
        if self.temperature is not None:
            params["ls_temperature"] = self.temperature
        if self.max_tokens is not None:
            params["ls_max_tokens"] = self.max_tokens
        stops = stop or self.stop
        if stops:
            params["ls_stop"] = list(stops)
        return params

    # -- requests -----------------------------------------------------------------------------

    def _app_options(self, kwargs: Mapping[str, Any]) -> AppOptions:
        """Instance settings overlaid with per-call keyword arguments (unknown: ``parameters``)."""
        return self.call_options(
            self.model_kwargs, kwargs, ignored=_IGNORED_KEYS, ignored_prefixes=("ls_",)
        )

    def _stops(self, stop: list[str] | None) -> list[str] | None:
        return stop if stop is not None else self.stop

    def _answer(
        self, completion: AppCompletion, options: AppOptions, stop: list[str] | None
    ) -> tuple[str, AppCompletion, dict[str, Any]]:
        """The answer cut at the stop sequences, the result and its metadata."""
        text, stopped = truncate_at_stop(completion.text, self._stops(stop))
        return text, completion, self.answer_metadata(completion, options, stopped=stopped)

    def _complete(
        self, prompt: str | None, options: AppOptions, stop: list[str] | None
    ) -> tuple[str, AppCompletion, dict[str, Any]]:
        """One JSON call (see :meth:`_answer`)."""
        return self._answer(self.client.call(prompt, **options), options, stop)

    async def _acomplete(
        self, prompt: str | None, options: AppOptions, stop: list[str] | None
    ) -> tuple[str, AppCompletion, dict[str, Any]]:
        """Async twin of :meth:`_complete`."""
        return self._answer(await self.client.acall(prompt, **options), options, stop)

    def _ending(
        self,
        gate: StopSequenceFilter,
        markers: CitationParser,
        completion: AppCompletion,
        options: AppOptions,
    ) -> Iterator[StreamItem]:
        """The text the stop filter and the marker parser still held, then
        ``(result, metadata)``."""
        rest = markers.feed(gate.flush()).raw + markers.flush().raw
        if rest:
            yield rest
        yield completion, self.answer_metadata(completion, options, stopped=gate.stopped)

    def _stream_app(
        self, prompt: str | None, options: AppOptions, stop: list[str] | None
    ) -> Iterator[StreamItem]:
        """Each text delta as it arrives, then ``(result, metadata)`` once at the end.

        A stop sequence ends the stream where it starts (the connection is closed there). A
        citation marker cut across deltas is handed on whole: only a tail that may still become
        one (``<ref>[4]</``) waits for the next delta.
        """
        gate, markers = StopSequenceFilter(self._stops(stop)), CitationParser()
        with self.client.stream(prompt, **options) as stream:
            for chunk in stream:
                if text := markers.feed(gate.feed(chunk.delta)).raw:
                    yield text
                if gate.stopped:
                    break
            yield from self._ending(gate, markers, stream.completion, options)

    async def _astream_app(
        self, prompt: str | None, options: AppOptions, stop: list[str] | None
    ) -> AsyncIterator[StreamItem]:
        """Async twin of :meth:`_stream_app`."""
        gate, markers = StopSequenceFilter(self._stops(stop)), CitationParser()
        async with self.client.astream(prompt, **options) as stream:
            async for chunk in stream:
                if text := markers.feed(gate.feed(chunk.delta)).raw:
                    yield text
                if gate.stopped:
                    break
            for item in self._ending(gate, markers, stream.completion, options):
                yield item
