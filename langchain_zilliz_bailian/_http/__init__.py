"""The transport layer: one httpx adapter per client, retries, SSE decoding and option checks.

Knows HTTP and the package's error tree, nothing of Zilliz, Bailian, LangChain or LlamaIndex.
``adapter`` (the client every service talks through), ``attempts`` (the one attempt loop: error
mapping, retry decision, delay), ``retry`` (the policy and the "had this write an effect?" rule),
``deadline`` (``total_timeout`` for sync and async alike), ``pools`` (pooled clients and
environment proxies), ``sse`` (the event parser) and ``checks`` (option checks).
"""
