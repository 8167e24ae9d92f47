"""Usage of a streamed answer is counted once per delta (linear), with unchanged figures."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Mapping, Sequence

import pytest

from langchain_zilliz_bailian.server import model_responder, text
from langchain_zilliz_bailian.server.apps import AppSpec, ModelEndpoint
from langchain_zilliz_bailian.server.generation import ModelUsage
from langchain_zilliz_bailian.server.model_responder import ModelResponder
from langchain_zilliz_bailian.server.responder import Delta, Turn
from langchain_zilliz_bailian.server.text import TokenTally, count_tokens

PIECES = ["wor", "d", " ", "中文", "x", ", ", "y_1", "2", "字a", "b!", "", "é", "\n", "z"]


def test_the_tally_equals_counting_the_whole_text_however_it_is_split() -> None:
    rng = random.Random(7)
    for _ in range(200):
        pieces = [rng.choice(PIECES) for _ in range(rng.randint(0, 30))]
        tally = TokenTally()
        so_far = ""
        for piece in pieces:
            so_far += piece
            assert tally.add(piece) == count_tokens(so_far), pieces


class FakeModel:
    """A model client streaming scripted deltas (no usage chunk unless ``usage`` is given)."""

    def __init__(self, deltas: list[str], usage: ModelUsage | None = None) -> None:
        self.deltas = deltas
        self.usage = usage

    async def stream(
        self,
        endpoint: ModelEndpoint,
        messages: Sequence[Mapping[str, str]],
        sampling: Mapping[str, float | int] | None = None,
    ) -> AsyncIterator[str | ModelUsage]:
        for delta in self.deltas:
            yield delta
        if self.usage is not None:
            yield self.usage


def turn() -> Turn:
    endpoint = ModelEndpoint(base_url="http://127.0.0.1:9/v1", model="fake-model")
    return Turn(AppSpec.build(type="model", model=endpoint), "What is Milvus?")


async def answer(client: FakeModel) -> list[Delta]:
    responder = ModelResponder(client)  # type: ignore[arg-type]
    return [delta async for delta in responder.respond(turn())]


async def test_counting_scans_each_delta_once(monkeypatch: pytest.MonkeyPatch) -> None:
    scanned: list[int] = []

    def counting(value: str) -> int:
        scanned.append(len(value))
        return count_tokens(value)

    monkeypatch.setattr(text, "count_tokens", counting)
    monkeypatch.setattr(model_responder, "count_tokens", counting)
    deltas = ["word" if n % 3 else " more" for n in range(3000)]
    got = await answer(FakeModel(deltas))
    answer_chars = sum(len(d) for d in deltas)
    prompt_chars = sum(scanned) - answer_chars
    # Before: the whole answer so far was counted again on every delta (about 20 million chars).
    assert 0 <= prompt_chars < 200
    assert got[-1].usage is not None
    assert got[-1].usage.output_tokens == count_tokens("".join(deltas))


async def test_usage_of_every_delta_is_the_count_of_the_text_so_far() -> None:
    deltas = ["Milvus st", "ores vec", "tors", " [1]", " 中", "文", "."]
    got = await answer(FakeModel(deltas))
    so_far = ""
    read = got[0].usage.input_tokens if got[0].usage else -1
    for delta in got:
        so_far += delta.text
        assert delta.usage is not None
        assert (delta.usage.model_id, delta.usage.input_tokens) == ("fake-model", read)
        assert delta.usage.output_tokens == count_tokens(so_far)
    assert so_far == "".join(deltas)


async def test_the_models_own_usage_still_ends_the_answer() -> None:
    got = await answer(FakeModel(["Hello", " world"], ModelUsage("real-model", 42, 7)))
    assert got[-1].usage is not None
    assert (got[-1].usage.model_id, got[-1].usage.output_tokens) == ("real-model", 7)
