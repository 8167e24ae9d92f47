"""``zilliz-bailian demo``: the whole product on one screen, offline by default.

Starts the local compatible server on a free loopback port (or uses the real endpoints with
``--live``), creates a doc pipeline set, ingests the bundled corpus, then answers one question with
a LangChain chain and one with a LlamaIndex query engine, streaming both and timing every step.
LangChain, LlamaIndex and the server are imported only when the demo runs.
"""

from __future__ import annotations

from langchain_zilliz_bailian.demo.options import DemoOptions, add_arguments
from langchain_zilliz_bailian.demo.runner import main, run

__all__ = ["DemoOptions", "add_arguments", "main", "run"]
