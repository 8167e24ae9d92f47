"""The plain-http warning: only this machine is exempt, and each object warns once (issue 9)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest

from langchain_zilliz_bailian._http.checks import check_base_url
from langchain_zilliz_bailian.bailian import BailianAppClient
from langchain_zilliz_bailian.errors import InsecureBaseURLWarning

HERE = __file__


def insecure(make: Callable[[], Any]) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make()
    return [w for w in caught if issubclass(w.category, InsecureBaseURLWarning)]


@pytest.mark.parametrize(
    "url",
    [
        "http://evil.localhost:8765",
        "http://localhost.evil.com",
        "http://127.0.0.1.evil.com",
        "http://10.0.0.5:8765",
        "http://[::2]:8765",
    ],
)
def test_plain_http_to_anything_but_this_machine_warns(url: str) -> None:
    assert len(insecure(lambda: check_base_url(url))) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8765",
        "http://LOCALHOST:8765",
        "http://127.0.0.1:8765",
        "http://127.1.2.3",
        "http://[::1]:8765/api/v1",
        "https://evil.localhost",
    ],
)
def test_plain_http_to_this_machine_or_https_does_not_warn(url: str) -> None:
    assert insecure(lambda: check_base_url(url)) == []


def _chat() -> Any:
    from langchain_zilliz_bailian import ChatBailianApp

    return ChatBailianApp(app_id="a1", api_key="k", base_url="http://evil.localhost/api/v1")


def _lc_llm() -> Any:
    from langchain_zilliz_bailian import BailianAppLLM

    return BailianAppLLM(app_id="a1", api_key="k", base_url="http://evil.localhost/api/v1")


def _llama_llm() -> Any:
    from llama_index_ext import BailianAppLLM

    return BailianAppLLM(app_id="a1", api_key="k", base_url="http://evil.localhost/api/v1")


@pytest.mark.parametrize("make", [_chat, _lc_llm, _llama_llm], ids=["chat", "lc-llm", "llama-llm"])
def test_a_bailian_model_warns_once_at_construction_not_again_for_its_client(make) -> None:
    caught = insecure(lambda: make().client)
    assert len(caught) == 1
    assert caught[0].filename == HERE  # points at the line that built the model


def test_the_client_alone_still_warns_once() -> None:
    caught = insecure(lambda: BailianAppClient("a1", api_key="k", base_url="http://10.0.0.5"))
    assert len(caught) == 1
    assert caught[0].filename == HERE
