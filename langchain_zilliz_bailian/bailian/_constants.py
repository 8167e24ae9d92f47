"""Hosts, environment variable names and headers of the Bailian app completion API."""

from __future__ import annotations

__all__ = [
    "API_KEY_ENV",
    "APP_ID_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "DEFAULT_READ_TIMEOUT",
    "DEFAULT_TOTAL_TIMEOUT",
    "INTL_BASE_URL",
    "WORKSPACE_HEADER",
]

#: China mainland (Beijing), the default of the official SDKs; ``/api/v1`` included, as theirs is.
DEFAULT_BASE_URL = "https://dashscope.aliyuncs.com/api/v1"
#: International (Singapore). API keys are region-bound: use the key of this region with it.
INTL_BASE_URL = "https://dashscope-intl.aliyuncs.com/api/v1"

#: Environment variable names, as the official SDK spells them (the app id one is ours).
API_KEY_ENV = "DASHSCOPE_API_KEY"
BASE_URL_ENV = "DASHSCOPE_HTTP_BASE_URL"
APP_ID_ENV = "DASHSCOPE_APP_ID"

#: Selects a sub-workspace; the odd casing is the vendor's (header names are case-insensitive).
WORKSPACE_HEADER = "X-DashScope-WorkSpace"

#: Seconds allowed between two reads: the server gives up after 180 s (``x-dashscope-timeout``).
DEFAULT_READ_TIMEOUT = 200.0
#: Seconds a whole call or stream may take (connect, retries and every read included): the
#: service caps synchronous calls at about 10 minutes, and streams can hang with TCP still open.
DEFAULT_TOTAL_TIMEOUT = 600.0
