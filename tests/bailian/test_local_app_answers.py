"""The local app answers from the context it is given (issue 12, done-when): a LangChain
``retriever | prompt | ChatBailianApp`` chain and a LlamaIndex ``RetrieverQueryEngine`` with its
default template, over a small handbook on the local server, with the offline responder; and a
follow-up turn of a session retrieves the topic of the turn before it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest

from langchain_zilliz_bailian.server import LocalServer
from langchain_zilliz_bailian.server.sentences import split_sentences
from langchain_zilliz_bailian.zilliz import ZillizPipelinesClient
from langchain_zilliz_bailian.zilliz.client import PipelineSet

pytestmark = pytest.mark.server

SECTIONS = {
    "company": "Acme Co. was founded by Dr. Jane Smith in 1998 in Rotterdam. "
    "The company makes precision anvils for cartoon studios.",
    "leave": "Full-time employees get 27 vacation days per year. "
    "Unused vacation days expire at the end of March.",
    "support": "Write to help.desk@acme-tools.example.com for questions about your account. "
    "The help desk replies within two working days.",
    "demo": "The demo keeps its vectors in ./milvus_demo.db on the local disk. "
    "Delete that file to start over with an empty index.",
    "expenses": "Meals on business trips are reimbursed up to 42.50 EUR per day. "
    "Taxi rides need a printed receipt.",
}
HANDBOOK = "# Acme handbook\n\n" + "\n\n".join(
    f"## {name.title()}\n\n{text}" for name, text in SECTIONS.items()
)
#: (question, its section, the sentence that answers it: quoted whole).
QUESTIONS = [
    ("Who founded Acme Co.?", "company", "Acme Co. was founded by Dr. Jane Smith in 1998"),
    ("How many vacation days do employees get?", "leave", "get 27 vacation days per year."),
    (
        "Which e-mail address handles questions about my account?",
        "support",
        "Write to help.desk@acme-tools.example.com for questions about your account.",
    ),
    ("Where does the demo keep its vectors?", "demo", "in ./milvus_demo.db on the local disk."),
    ("How much are meals reimbursed per day?", "expenses", "up to 42.50 EUR per day."),
]
PROJECT = "proj-handbook"
CLUSTER = "in01-handbook"


def assert_answers(answer: str, section: str, expected: str) -> None:
    """The expected sentence is quoted whole, and nothing from another section is."""
    assert expected in answer, answer
    for other, text in SECTIONS.items():
        if other != section:
            for sentence in split_sentences(text):
                assert sentence not in answer, (section, answer)


def _pipeline_set(
    client: ZillizPipelinesClient,
    name: str,
    kind: Literal["text", "doc"],
    preserve: dict[str, str] | None = None,
) -> PipelineSet:
    return client.create_pipeline_set(
        name=name,
        project_id=PROJECT,
        cluster_id=CLUSTER,
        collection_name=name,
        kind=kind,
        preserve=preserve,
    )


@pytest.fixture(scope="module")
def handbook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data_dir = tmp_path_factory.mktemp("handbook")
    with LocalServer(
        data_dir=data_dir, stream_interval_ms=0, default_app_id="main", embedding_fallback=True
    ) as server:
        with ZillizPipelinesClient(api_key=server.api_key, base_url=server.url) as client:
            made = _pipeline_set(client, "handbook", "doc")
            path = Path(data_dir) / "handbook.md"
            path.write_text(HANDBOOK, encoding="utf-8")
            client.ingest_file(made.ingestion.pipeline_id, path)
        search = made.search.pipeline_id
        from langchain_zilliz_bailian.server.apps import AppRegistry, AppSpec

        registry = AppRegistry(data_dir)  # the apps are defined, as `zilliz-bailian apps create`
        registry.create(AppSpec.build(app_id="chat", type="model"))
        registry.create(AppSpec.build(app_id="forgetful", type="model", memory=False))
        registry.create(AppSpec.build(app_id="kb", type="rag", pipeline_ids=[search]))
        yield {"server": server, "search": search}


def test_langchain_retriever_prompt_app_chain_answers_from_the_context(
    handbook: dict[str, Any],
) -> None:
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import Runnable, RunnablePassthrough

    from langchain_zilliz_bailian.chat_models import ChatBailianApp
    from langchain_zilliz_bailian.retrievers import ZillizPipelineRetriever

    server: LocalServer = handbook["server"]
    retriever = ZillizPipelineRetriever(
        pipeline_id=handbook["search"], k=3, api_key=server.api_key, base_url=server.url
    )
    app = ChatBailianApp(app_id="chat", api_key=server.api_key, base_url=server.bailian_base_url)
    docs = retriever | (lambda found: "\n\n".join(d.page_content for d in found))
    prompts = [  # context in the system turn, and in the user turn with labels
        ChatPromptTemplate.from_messages(
            [("system", "Answer from this context only:\n{context}"), ("human", "{question}")]
        ),
        ChatPromptTemplate.from_template(
            "You are an assistant for question-answering tasks. Use the following pieces of "
            "retrieved context to answer the question.\nQuestion: {question}\n"
            "Context: {context}\nAnswer:"
        ),
    ]
    for prompt in prompts:
        chain: Runnable[Any, str] = (
            {"context": docs, "question": RunnablePassthrough()} | prompt | app | StrOutputParser()
        )
        for question, section, expected in QUESTIONS:
            assert_answers(chain.invoke(question), section, expected)


def test_llama_index_query_engine_with_the_default_template(handbook: dict[str, Any]) -> None:
    from llama_index.core.query_engine import RetrieverQueryEngine

    from llama_index_ext import BailianAppLLM, ZillizPipelineRetriever

    server: LocalServer = handbook["server"]
    retriever = ZillizPipelineRetriever(
        handbook["search"], api_key=server.api_key, base_url=server.url, similarity_top_k=3
    )
    llm = BailianAppLLM(app_id="chat", api_key=server.api_key, base_url=server.bailian_base_url)
    engine = RetrieverQueryEngine.from_args(retriever, llm=llm)
    for question, section, expected in QUESTIONS:
        assert_answers(str(engine.query(question)), section, expected)


def _turn(server: LocalServer, app_id: str, **inp: Any) -> dict[str, Any]:
    r = httpx.post(
        f"{server.bailian_base_url}/apps/{app_id}/completion",
        json={"input": inp, "parameters": {"has_thoughts": True}},
        headers={"Authorization": f"Bearer {server.api_key}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    output: dict[str, Any] = r.json()["output"]
    return output


def _retrieved(output: dict[str, Any]) -> list[str]:
    (rag,) = [t for t in output["thoughts"] if t["action_type"] == "agentRag"]
    return [p["content"] for p in json.loads(rag["observation"])]


def test_knowledge_base_app_answers_with_references(handbook: dict[str, Any]) -> None:
    server: LocalServer = handbook["server"]
    for question, section, expected in QUESTIONS:
        out = _turn(server, "kb", prompt=question)
        assert_answers(out["text"], section, expected)
        refs = out["doc_references"]
        assert refs and all(SECTIONS[section] in ref["text"] for ref in refs)
        assert {"index_id", "title", "doc_id", "doc_name", "text", "images"} <= set(refs[0])


def test_follow_up_turn_retrieves_the_same_topic(handbook: dict[str, Any]) -> None:
    server: LocalServer = handbook["server"]
    first = _turn(server, "kb", prompt="Where does the demo keep its vectors?")
    follow = _turn(server, "kb", prompt="And how do I start over?", session_id=first["session_id"])
    assert SECTIONS["demo"] in _retrieved(follow)[0]
    assert "Delete that file to start over with an empty index." in follow["text"]
    # The same follow-up sent as client-side messages reads the same conversation.
    messages = [
        {"role": "user", "content": "Who founded Acme Co.?"},
        {"role": "assistant", "content": first["text"]},
        {"role": "user", "content": "And when?"},
    ]
    by_messages = _turn(server, "kb", messages=messages)
    assert SECTIONS["company"] in _retrieved(by_messages)[0]
    assert "1998" in by_messages["text"]


def test_memory_id_recalls_stated_facts_in_later_sessions(handbook: dict[str, Any]) -> None:
    server: LocalServer = handbook["server"]
    _turn(server, "chat", prompt="My name is Ada. I live in Hangzhou.", memory_id="user_42")
    later = _turn(server, "chat", prompt="Where do I live?", memory_id="user_42")  # new session
    assert 'You told me earlier: "I live in Hangzhou."' in later["text"]
    (memory,) = [t for t in later["thoughts"] if t["action"] == "memory"]
    assert memory["action_type"] == "api" and memory["action_name"] == "长期记忆检索"
    assert json.loads(memory["arguments"]) == {"memory_id": "user_42", "query": "Where do I live?"}
    assert json.loads(memory["observation"]) == [{"content": "I live in Hangzhou."}]
    stranger = _turn(server, "chat", prompt="Where do I live?", memory_id="user_43")
    assert "Hangzhou" not in stranger["text"]
    assert json.loads(stranger["thoughts"][0]["observation"]) == []
    # An app without long-term memory ignores memory_id, like a Bailian app with it switched off.
    off = _turn(server, "forgetful", prompt="Where do I live?", memory_id="user_42")
    assert "Hangzhou" not in off["text"] and "thoughts" not in off


def test_doc_references_carry_preserved_doc_url_and_page(handbook: dict[str, Any]) -> None:
    server: LocalServer = handbook["server"]
    with ZillizPipelinesClient(api_key=server.api_key, base_url=server.url) as client:
        made = _pipeline_set(client, "manual", "text", {"url": "VarChar", "page_number": "Int64"})
        client.ingest_texts(
            made.ingestion.pipeline_id,
            ["The torque wrench must be calibrated every 90 days."],
            metadata={"url": "https://manuals.example.com/wrench.pdf", "page_number": 7},
        )
    r = httpx.post(  # "chat" has no knowledge base of its own: rag_options names one
        f"{server.bailian_base_url}/apps/chat/completion",
        json={
            "input": {"prompt": "How often must the torque wrench be calibrated?"},
            "parameters": {"rag_options": {"pipeline_ids": [made.search.pipeline_id]}},
        },
        headers={"Authorization": f"Bearer {server.api_key}"},
        timeout=30,
    )
    (ref,) = r.json()["output"]["doc_references"]
    assert ref["doc_url"] == "https://manuals.example.com/wrench.pdf"
    assert ref["page_number"] == [7]
    assert "calibrated every 90 days" in ref["text"]
