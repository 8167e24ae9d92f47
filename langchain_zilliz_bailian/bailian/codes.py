"""DashScope's string error codes (the Bailian error-code table), read by ``envelope.py``.

The code decides before the HTTP status: a 429 can be a permanent billing error
(``PrepaidBillOverdue``), not throttling. Families such as ``Throttling.RateQuota`` or
``BadRequest.TooLarge`` match by prefix; a code not listed falls back to the HTTP status.
"""

from __future__ import annotations

from langchain_zilliz_bailian.errors import (
    AuthenticationError,
    BadRequestError,
    CodeTable,
    ErrorRow,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
)

__all__ = ["DASHSCOPE_CODES"]

_BAD = ErrorRow(BadRequestError, False)
_BILLING = ErrorRow(PermissionDeniedError, False)
_NOT_FOUND = ErrorRow(NotFoundError, False)
_SERVER = ErrorRow(InternalServerError, True)

DASHSCOPE_CODES = CodeTable(
    exact={
        "InvalidParameter": _BAD,
        "DataInspectionFailed": _BAD,
        "InvalidURL": _BAD,
        "UnsupportedOperation": _BAD,
        "FlowNotPublished": _BAD,
        "InvalidSchema": _BAD,
        "InvalidSchemaFormat": _BAD,
        "FaqRuleBlocked": _BAD,
        "CustomRoleBlocked": _BAD,
        "Arrearage": _BILLING,
        "InvalidApiKey": ErrorRow(AuthenticationError, False),
        "WorkSpaceNotFound": _NOT_FOUND,
        "ModelNotFound": _NOT_FOUND,
        "NotFound": _NOT_FOUND,
        "RequestTimeOut": ErrorRow(RequestTimeoutError, True),
        "LimitRequests": ErrorRow(RateLimitError, True),
        "PrepaidBillOverdue": _BILLING,
        "PostpaidBillOverdue": _BILLING,
        "CommodityNotPurchased": _BILLING,
        "SystemError": _SERVER,
        "RewriteFailed": _SERVER,
        "RetrivalFailed": _SERVER,
        "AppProcessFailed": _SERVER,
        "ModelServiceFailed": _SERVER,
        "InvokePluginFailed": _SERVER,
        "ModelUnavailable": _SERVER,
    },
    prefixes=(
        ("Throttling", ErrorRow(RateLimitError, True)),
        ("BadRequest", _BAD),
        ("AccessDenied", ErrorRow(PermissionDeniedError, False)),
        ("Workspace.AccessDenied", ErrorRow(PermissionDeniedError, False)),
        ("Model.AccessDenied", ErrorRow(PermissionDeniedError, False)),
        ("InternalError", _SERVER),
    ),
)
