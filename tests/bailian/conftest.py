"""Fixtures for the Bailian app tests: mock clients, recordings, and an offline app backend.

``bailian_backend`` is the app the standard LangChain suites talk to: the local compatible server
(``langchain_zilliz_bailian.server.LocalServer``) on loopback when it is importable and starts,
else :class:`bailian_fakes.FakeApp` behind ``httpx.MockTransport``. Set
``BAILIAN_TEST_BACKEND=fake`` to force the latter.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian.bailian import BailianAppClient
from tests.bailian.bailian_fakes import (
    API_KEY,
    APP_ID,
    BASE_URL,
    NO_WAIT,
    Backend,
    FakeApp,
    Recorder,
    mock_http,
)


@pytest.fixture
def make_client() -> Callable[..., tuple[BailianAppClient, Recorder]]:
    """Build a client whose sync and async transports answer from a :class:`Recorder`."""

    def make(*responses: Callable[[], httpx.Response], **kwargs: Any):
        recorder = Recorder(list(responses))
        kwargs.setdefault("retry_policy", NO_WAIT)
        client = BailianAppClient(
            kwargs.pop("app_id", APP_ID),
            api_key=kwargs.pop("api_key", API_KEY),
            **mock_http(recorder),
            **kwargs,
        )
        return client, recorder

    return make


@pytest.fixture
def make_model() -> Callable[..., tuple[Any, Recorder]]:
    """Build a ``ChatBailianApp`` (or ``cls=BailianAppLLM``) answering from a :class:`Recorder`."""
    from langchain_zilliz_bailian import ChatBailianApp

    def make(*responses: Callable[[], httpx.Response], cls: Any = ChatBailianApp, **params: Any):
        recorder = Recorder(list(responses))
        params.setdefault("app_id", APP_ID)
        params.setdefault("api_key", API_KEY)
        params.setdefault("max_retries", 0)
        return cls(**mock_http(recorder), **params), recorder

    return make


def _local_server() -> Any:
    if os.environ.get("BAILIAN_TEST_BACKEND") == "fake":
        return None
    try:
        module = importlib.import_module("langchain_zilliz_bailian.server")
    except Exception:  # the server extra or module is not there
        return None
    return getattr(module, "LocalServer", None)


@pytest.fixture(scope="session")
def bailian_backend() -> Iterator[Backend]:
    """The local compatible server when it works, else the in-test fake app."""
    server_class = _local_server()
    with contextlib.ExitStack() as stack:
        if server_class is not None:
            try:
                server = stack.enter_context(server_class())
                backend = Backend("local", server.bailian_base_url, server.api_key)
            except Exception as exc:
                warnings.warn(f"LocalServer did not start ({exc!r}); using the fake app.")
                server_class = None
        if server_class is None:
            sync_client, async_client = FakeApp().clients()
            stack.callback(sync_client.close)
            backend = Backend(
                "fake",
                BASE_URL,
                API_KEY,
                clients={"http_client": sync_client, "http_async_client": async_client},
            )
        yield backend
