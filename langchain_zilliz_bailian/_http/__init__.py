"""The transport layer: one httpx adapter per client, retries, SSE decoding and option checks.

Knows HTTP and the package's error tree, nothing of Zilliz, Bailian, LangChain or LlamaIndex.
"""
