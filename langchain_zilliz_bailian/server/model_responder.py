"""The responder of apps with a ``model``: an OpenAI-compatible endpoint writes the answer.

Each turn sends the app's system prompt, recalled memories, the passages numbered ``[n]`` and the
conversation (:func:`.grounding.model_messages`), with the request's temperature, top_p and seed;
each model delta is passed on as it arrives, its ``[n]`` citations rewritten to ``<ref>[n]</ref>``.
Usage grows with a local estimate while the text streams and ends with the model's own counts (its
last chunk), as ``usage.models`` reports them.
A thinking model's reasoning is passed on beside the text (``Delta.reasoning``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from langchain_zilliz_bailian.server.generation import ChatModelClient, ModelUsage, Reasoning
from langchain_zilliz_bailian.server.grounding import CitationMarkers, model_messages
from langchain_zilliz_bailian.server.responder import Delta, Turn, Usage
from langchain_zilliz_bailian.server.text import TokenTally, count_tokens

__all__ = ["ModelResponder"]


class ModelResponder:
    """Answers turns of apps that name a model endpoint, over one shared client pool."""

    def __init__(self, client: ChatModelClient) -> None:
        self.client = client

    def __repr__(self) -> str:
        return "ModelResponder()"

    async def respond(self, turn: Turn) -> AsyncIterator[Delta]:
        """Yield the model's deltas as they arrive; :class:`.BailianError` on any failure."""
        endpoint = turn.app.model
        if endpoint is None:
            raise ValueError("ModelResponder needs an app with a model endpoint")
        conversation = [*turn.history, {"role": "user", "content": turn.query}]
        messages = model_messages(
            turn.app.system_prompt, turn.passages, conversation, turn.memories
        )
        read = sum(count_tokens(m["content"]) for m in messages)
        markers = CitationMarkers([p.index_id for p in turn.passages])
        written = TokenTally()  # each delta counted once, not the whole text again
        async for item in self.client.stream(endpoint, messages, turn.sampling):
            if isinstance(item, Reasoning):
                yield Delta("", reasoning=item.text)
                continue
            if isinstance(item, ModelUsage):
                tail = markers.flush()
                yield Delta(tail, Usage(item.model_id, item.input_tokens, item.output_tokens))
                return
            text = markers.feed(item)
            if text:
                yield Delta(text, Usage(endpoint.model, read, written.add(text)))
        tail = markers.flush()
        if tail:  # no usage from the endpoint: the estimate stands
            yield Delta(tail, Usage(endpoint.model, read, written.add(tail)))
