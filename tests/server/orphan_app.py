"""A uvicorn app factory for the orphaned-worker tests: each worker watches its supervisor as
``zilliz-bailian serve --workers N`` workers do, after ``ORPHAN_TEST_STARTUP_S`` seconds of
(simulated) startup."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from langchain_zilliz_bailian.server.runner import _exit_with_parent

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def create() -> ASGIApp:
    time.sleep(float(os.environ.get("ORPHAN_TEST_STARTUP_S", "0")))
    _exit_with_parent()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(os.getpid()).encode()})

    return app
