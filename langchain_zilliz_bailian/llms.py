"""``BailianAppLLM``: a Bailian (DashScope) app as a LangChain text-completion model.

The same app, client and answer-metadata rule as :class:`ChatBailianApp`, over a single prompt:
the metadata (session and request ids, cited documents, usage, thoughts) is in each generation's
``generation_info``, with LangChain's ``usage_metadata`` beside it.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any, ClassVar, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models.llms import LLM
from langchain_core.outputs import Generation, GenerationChunk, LLMResult
from pydantic import ConfigDict

from langchain_zilliz_bailian._bailian_lc import BailianAppMixin, StreamItem, usage_metadata
from langchain_zilliz_bailian.bailian import AppCompletion

__all__ = ["BailianAppLLM"]


def _generation(text: str, completion: AppCompletion, metadata: dict[str, Any]) -> Generation:
    info = {**metadata, "usage_metadata": usage_metadata(completion)}
    return Generation(text=text, generation_info=info)


def _chunk(item: StreamItem) -> GenerationChunk:
    """A text piece, or the closing chunk (no text) that carries the metadata."""
    if isinstance(item, str):
        return GenerationChunk(text=item)
    return GenerationChunk(text="", generation_info=_generation("", *item).generation_info)


def _joined(chunks: Iterable[GenerationChunk]) -> GenerationChunk:
    return functools.reduce(operator.add, chunks)


async def _ajoined(chunks: AsyncIterator[GenerationChunk]) -> GenerationChunk:
    return _joined([chunk async for chunk in chunks])


def _result(generations: Iterable[Generation]) -> LLMResult:
    """One generation a prompt."""
    return LLMResult(generations=[[generation] for generation in generations])


class BailianAppLLM(BailianAppMixin, LLM):
    """A Bailian app as an LLM: ``invoke``/``stream`` a prompt, async twins native.

    Example:
        .. code-block:: python

            from langchain_zilliz_bailian import BailianAppLLM

            with BailianAppLLM(app_id="...") as llm:
                print(llm.invoke("Summarise the handbook in one line."))
    """

    model_config = ConfigDict(
        populate_by_name=True, arbitrary_types_allowed=True, protected_namespaces=()
    )
    _ls_model_type: ClassVar[Literal["chat", "llm"]] = "llm"

    @property
    def _llm_type(self) -> str:
        return "bailian-app"

    # -- LLM's required hooks -----------------------------------------------------------------

    def _call(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> str:
        return self._complete(prompt, self._app_options(kwargs), stop)[0]

    async def _acall(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> str:
        return (await self._acomplete(prompt, self._app_options(kwargs), stop))[0]

    # -- generations with metadata ------------------------------------------------------------

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        if self.streaming:
            return _result(_joined(self._stream(p, stop, run_manager, **kwargs)) for p in prompts)
        return _result(
            _generation(*self._complete(p, self._app_options(kwargs), stop)) for p in prompts
        )

    async def _agenerate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        if self.streaming:
            return _result(
                [await _ajoined(self._astream(p, stop, run_manager, **kwargs)) for p in prompts]
            )
        options = self._app_options(kwargs)
        return _result([_generation(*await self._acomplete(p, options, stop)) for p in prompts])

    # -- streaming ----------------------------------------------------------------------------

    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        for item in self._stream_app(prompt, self._app_options(kwargs), stop):
            chunk = _chunk(item)
            if run_manager and isinstance(item, str):
                run_manager.on_llm_new_token(item, chunk=chunk)
            yield chunk

    async def _astream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[GenerationChunk]:
        async for item in self._astream_app(prompt, self._app_options(kwargs), stop):
            chunk = _chunk(item)
            if run_manager and isinstance(item, str):
                await run_manager.on_llm_new_token(item, chunk=chunk)
            yield chunk
