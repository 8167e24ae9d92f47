"""The offline responder's parts: the sentence splitter, reading a RAG prompt, the relevance
floor, follow-up detection and the facts long-term memory keeps."""

from __future__ import annotations

import pytest
from llama_index.core.prompts.chat_prompts import CHAT_TEXT_QA_PROMPT
from llama_index.core.prompts.default_prompts import DEFAULT_TEXT_QA_PROMPT

from langchain_zilliz_bailian.server.answer import Passage, best_sentences, context_answer
from langchain_zilliz_bailian.server.conversation import is_follow_up, retrieval_query
from langchain_zilliz_bailian.server.memory import stated_facts
from langchain_zilliz_bailian.server.prompt_context import read_prompt
from langchain_zilliz_bailian.server.sentences import split_sentences


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        (
            "Acme Co. was founded by Dr. Smith. It grew.",
            ["Acme Co. was founded by Dr. Smith.", "It grew."],
        ),
        ("Use e.g. the CLI. Or not.", ["Use e.g. the CLI.", "Or not."]),
        ("It costs 3.50 EUR. Pay now!", ["It costs 3.50 EUR.", "Pay now!"]),
        (
            "Mail ops@acme.example.com today. Thanks.",
            ["Mail ops@acme.example.com today.", "Thanks."],
        ),
        (
            "See https://docs.example.com/v2.1/setup.html first. Then go.",
            ["See https://docs.example.com/v2.1/setup.html first.", "Then go."],
        ),
        (
            "Data lives in ./milvus_demo.db. Delete it.",
            ["Data lives in ./milvus_demo.db.", "Delete it."],
        ),
        ('He said "stop." Then left.', ['He said "stop."', "Then left."]),
        ("Made in the U.S. Sold worldwide.", ["Made in the U.S. Sold worldwide."]),
        ("Wait... what? Yes.", ["Wait... what?", "Yes."]),
        ("数据保存在本地。可以删除！好吗？", ["数据保存在本地。", "可以删除！", "好吗？"]),  # noqa: RUF001
        (
            "# Title\nFirst line\nwraps here.\n- item one\n- item two",
            ["# Title", "First line wraps here.", "- item one", "- item two"],
        ),
    ],
)
def test_sentence_splitter(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


def test_llama_index_default_templates_are_read() -> None:
    context = "file_path: hb.md\n\nAcme Co. was founded in 1998.\n\nRefunds take 5 days."
    completion = DEFAULT_TEXT_QA_PROMPT.format(context_str=context, query_str="When was it?")
    read = read_prompt(completion, [])
    assert read.question == "When was it?" and read.has_block
    assert read.passages == [
        "file_path: hb.md",
        "Acme Co. was founded in 1998.",
        "Refunds take 5 days.",
    ]
    system, user = CHAT_TEXT_QA_PROMPT.format_messages(context_str=context, query_str="When?")
    read = read_prompt(user.content or "", [{"role": "system", "content": system.content or ""}])
    assert read.question == "When?"
    assert not any("context" in p.lower() for p in read.passages)  # instructions are not context


def test_langchain_context_shapes_are_read() -> None:
    system = {"role": "system", "content": "Answer from this context only:\nRefunds take 5 days."}
    assert read_prompt("How long do refunds take?", [system]).passages == ["Refunds take 5 days."]
    labelled = "Use the context.\nQuestion: How long?\nContext: Refunds take 5 days.\nAnswer:"
    read = read_prompt(labelled, [])
    assert (read.question, read.passages) == ("How long?", ["Refunds take 5 days."])
    tagged = read_prompt("<context>Refunds take 5 days.</context>\nHow long do refunds take?", [])
    assert (tagged.question, tagged.passages) == (
        "How long do refunds take?",
        ["Refunds take 5 days."],
    )
    plain = read_prompt("How long do refunds take?", [])
    assert (plain.question, plain.passages, plain.has_block) == (
        "How long do refunds take?",
        [],
        False,
    )


def test_relevance_floor_keeps_unrelated_sentences_out() -> None:
    passages = [
        Passage(
            "1", "Refunds take five working days. Our office is in Rotterdam.", "", "", "", 0.9
        ),
        Passage("2", "The cafeteria serves lunch at noon. Parking is free.", "", "", "", 0.8),
    ]
    chosen = best_sentences("How many days do refunds take?", passages)
    assert chosen == [("Refunds take five working days.", "1")]
    assert best_sentences("What colour is the sky?", passages) == []
    assert context_answer("Who is the CEO?", ["Refunds take five working days."]) is None


def test_follow_up_queries_carry_the_previous_turn() -> None:
    history = [
        {"role": "user", "content": "What is Milvus Lite?"},
        {"role": "assistant", "content": "A DB."},
    ]
    assert is_follow_up("And where?") and is_follow_up("How do I delete it?")
    assert not is_follow_up("How many vacation days do employees get?")
    assert retrieval_query("And where?", history) == "What is Milvus Lite?\nAnd where?"
    assert retrieval_query("How many vacation days do employees get?", history).startswith("How")
    assert retrieval_query("And where?", []) == "And where?"


def test_stated_facts_are_first_person_statements() -> None:
    assert stated_facts("My name is Ada. What is yours? The sky is blue. I like tea.") == [
        "My name is Ada.",
        "I like tea.",
    ]


def test_a_follow_up_after_a_rag_prompt_carries_its_question_only() -> None:
    previous = "Context information is below.\n---\nLong context here.\n---\nQuery: What is Milvus Lite?\nAnswer: "
    history = [{"role": "user", "content": previous}, {"role": "assistant", "content": "A DB."}]
    assert retrieval_query("And where?", history) == "What is Milvus Lite?\nAnd where?"
