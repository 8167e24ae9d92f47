"""``BailianAppLLM``: a Bailian (DashScope) app as a LangChain text-completion model.

The same app and client as :class:`ChatBailianApp`, over a single prompt. Metadata (session id,
request id, cited documents, usage) is in each generation's ``generation_info``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models.llms import LLM
from langchain_core.outputs import Generation, GenerationChunk, LLMResult
from pydantic import ConfigDict

from langchain_zilliz_bailian._bailian_lc import BailianAppMixin, usage_metadata
from langchain_zilliz_bailian.bailian import AppCompletion

__all__ = ["BailianAppLLM"]


def _info(completion: AppCompletion, metadata: dict[str, Any]) -> dict[str, Any]:
    return {**metadata, "usage_metadata": usage_metadata(completion)}


class BailianAppLLM(BailianAppMixin, LLM):
    """A Bailian app as an LLM: ``invoke``/``stream`` a prompt, async twins native.

    Example:
        .. code-block:: python

            from langchain_zilliz_bailian import BailianAppLLM

            llm = BailianAppLLM(app_id="...")
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
        generations: list[list[Generation]] = []
        for prompt in prompts:
            if self.streaming:
                final: GenerationChunk | None = None
                for chunk in self._stream(prompt, stop, run_manager, **kwargs):
                    final = chunk if final is None else final + chunk
                assert final is not None
                generations.append([final])
            else:
                text, completion, metadata = self._complete(prompt, self._app_options(kwargs), stop)
                generations.append(
                    [Generation(text=text, generation_info=_info(completion, metadata))]
                )
        return LLMResult(generations=generations)

    async def _agenerate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        generations: list[list[Generation]] = []
        for prompt in prompts:
            if self.streaming:
                final: GenerationChunk | None = None
                async for chunk in self._astream(prompt, stop, run_manager, **kwargs):
                    final = chunk if final is None else final + chunk
                assert final is not None
                generations.append([final])
            else:
                text, completion, metadata = await self._acomplete(
                    prompt, self._app_options(kwargs), stop
                )
                generations.append(
                    [Generation(text=text, generation_info=_info(completion, metadata))]
                )
        return LLMResult(generations=generations)

    # -- streaming ----------------------------------------------------------------------------

    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        for item in self._stream_app(prompt, self._app_options(kwargs), stop):
            if isinstance(item, str):
                chunk = GenerationChunk(text=item)
                if run_manager:
                    run_manager.on_llm_new_token(item, chunk=chunk)
                yield chunk
            else:
                yield GenerationChunk(text="", generation_info=_info(*item))

    async def _astream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[GenerationChunk]:
        async for item in self._astream_app(prompt, self._app_options(kwargs), stop):
            if isinstance(item, str):
                chunk = GenerationChunk(text=item)
                if run_manager:
                    await run_manager.on_llm_new_token(item, chunk=chunk)
                yield chunk
            else:
                yield GenerationChunk(text="", generation_info=_info(*item))
