"""The framework-free chat rules shared by ChatBailianApp and the LlamaIndex BailianAppLLM."""

from __future__ import annotations

import pytest

from langchain_zilliz_bailian.bailian.conversation import app_options, chat_request, merge_turns
from langchain_zilliz_bailian.errors import InvalidInputError

TURNS = [
    ("system", "Be brief."),
    ("user", "Hi"),
    ("user", "Where?"),
    ("assistant", "Here."),
    ("user", "Why?"),
]


def role(turn):
    return turn[0]


def text(turn):
    return turn[1]


def test_history_goes_out_as_messages_with_same_role_turns_merged():
    prompt, options = chat_request(TURNS, {}, role=role, text=text)
    assert prompt is None
    assert options["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi\n\nWhere?"},
        {"role": "assistant", "content": "Here."},
        {"role": "user", "content": "Why?"},
    ]


def test_a_lone_user_turn_is_the_prompt():
    assert chat_request([("user", "Hi")], {}, role=role, text=text) == ("Hi", {})


def test_with_a_session_only_the_last_user_turn_is_sent():
    prompt, options = chat_request(TURNS, {"session_id": "s1"}, role=role, text=text)
    assert (prompt, options) == ("Why?", {"session_id": "s1"})
    with pytest.raises(InvalidInputError):
        chat_request([("system", "x")], {"session_id": "s1"}, role=role, text=text)
    with pytest.raises(InvalidInputError):
        chat_request([], {}, role=role, text=text)


def test_options_overlay_and_unknown_keywords_become_parameters():
    options = app_options(
        {"session_id": None, "has_thoughts": True, "temperature": 0.2},
        {"enable_web_search": True},
        {
            "temperature": 0.5,
            "dialog_round": 3,
            "max_tokens": 9,
            "ls_trace": 1,
            "parameters": {"x": 1},
        },
        ignored={"max_tokens"},
        ignored_prefixes=("ls_",),
    )
    assert options == {
        "has_thoughts": True,
        "temperature": 0.5,
        "parameters": {"enable_web_search": True, "dialog_round": 3, "x": 1},
    }


def test_merge_turns_keeps_order():
    assert merge_turns([("user", "a"), ("assistant", "b")]) == [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
    ]
