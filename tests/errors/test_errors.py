"""The error table, row by row, and the error tree's import isolation."""

from __future__ import annotations

import subprocess
import sys

import pytest

from langchain_zilliz_bailian import errors
from langchain_zilliz_bailian.bailian.codes import DASHSCOPE_CODES
from langchain_zilliz_bailian.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    ResponseFormatError,
    ZillizBailianError,
    classify,
)
from langchain_zilliz_bailian.zilliz.codes import ZILLIZ_CODES

CODE_ROWS = [
    (80000, BadRequestError, False),
    (80001, AuthenticationError, False),
    (80002, AuthenticationError, False),
    (80020, NotFoundError, False),
    ("InvalidParameter", BadRequestError, False),
    ("DataInspectionFailed", BadRequestError, False),
    ("InvalidURL", BadRequestError, False),
    ("UnsupportedOperation", BadRequestError, False),
    ("FlowNotPublished", BadRequestError, False),
    ("InvalidSchema", BadRequestError, False),
    ("InvalidSchemaFormat", BadRequestError, False),
    ("FaqRuleBlocked", BadRequestError, False),
    ("CustomRoleBlocked", BadRequestError, False),
    ("Arrearage", PermissionDeniedError, False),
    ("InvalidApiKey", AuthenticationError, False),
    ("WorkSpaceNotFound", NotFoundError, False),
    ("ModelNotFound", NotFoundError, False),
    ("NotFound", NotFoundError, False),
    ("RequestTimeOut", RequestTimeoutError, True),
    ("LimitRequests", RateLimitError, True),
    ("PrepaidBillOverdue", PermissionDeniedError, False),
    ("PostpaidBillOverdue", PermissionDeniedError, False),
    ("CommodityNotPurchased", PermissionDeniedError, False),
    ("SystemError", InternalServerError, True),
    ("RewriteFailed", InternalServerError, True),
    ("RetrivalFailed", InternalServerError, True),
    ("AppProcessFailed", InternalServerError, True),
    ("ModelServiceFailed", InternalServerError, True),
    ("InvokePluginFailed", InternalServerError, True),
    ("ModelUnavailable", InternalServerError, True),
]


def test_code_rows_cover_both_vendor_tables():
    assert {row[0] for row in CODE_ROWS} == set(ZILLIZ_CODES.exact) | set(DASHSCOPE_CODES.exact)


def test_each_vendor_table_holds_only_its_own_kind_of_code():
    assert all(isinstance(code, int) for code in ZILLIZ_CODES.exact)
    assert all(isinstance(code, str) for code in DASHSCOPE_CODES.exact)
    assert ZILLIZ_CODES.prefixes == ()


def test_without_a_vendor_table_only_the_status_decides():
    err = classify(message="m", status_code=404, code="LimitRequests")
    assert type(err) is NotFoundError
    assert type(classify(message="m", status_code=400, code=80001)) is BadRequestError


@pytest.mark.parametrize(("code", "error", "retryable"), CODE_ROWS)
def test_code_row(code, error, retryable):
    # The status deliberately disagrees: the code decides.
    codes = ZILLIZ_CODES if isinstance(code, int) else DASHSCOPE_CODES
    err = classify(message="m", status_code=418, code=code, request_id="rid", codes=codes)
    assert type(err) is error
    assert err.retryable is retryable
    assert (err.code, err.status_code, err.request_id, err.message) == (code, 418, "rid", "m")


PREFIX_ROWS = [
    ("Throttling", RateLimitError, True),
    ("Throttling.RateQuota", RateLimitError, True),
    ("Throttling.AllocationQuota", RateLimitError, True),
    ("BadRequest.EmptyInput", BadRequestError, False),
    ("BadRequest.TooLarge", BadRequestError, False),
    ("BadRequest.InputDownloadFailed", BadRequestError, False),
    ("AccessDenied", PermissionDeniedError, False),
    ("AccessDenied.Unpurchased", PermissionDeniedError, False),
    ("Workspace.AccessDenied", PermissionDeniedError, False),
    ("Model.AccessDenied", PermissionDeniedError, False),
    ("InternalError", InternalServerError, True),
    ("InternalError.Algo", InternalServerError, True),
    ("InternalError.Timeout", InternalServerError, True),
]


@pytest.mark.parametrize(("code", "error", "retryable"), PREFIX_ROWS)
def test_prefix_row(code, error, retryable):
    err = classify(message="m", status_code=None, code=code, codes=DASHSCOPE_CODES)
    assert type(err) is error
    assert err.retryable is retryable


STATUS_ROWS = [
    (400, BadRequestError, False),
    (401, AuthenticationError, False),
    (403, PermissionDeniedError, False),
    (404, NotFoundError, False),
    (408, RequestTimeoutError, True),
    (410, NotFoundError, False),
    (413, BadRequestError, False),
    (415, BadRequestError, False),
    (422, BadRequestError, False),
    (429, RateLimitError, True),
    (500, InternalServerError, True),
    (502, InternalServerError, True),
    (503, InternalServerError, True),
    (418, APIError, False),
]


@pytest.mark.parametrize(("status", "error", "retryable"), STATUS_ROWS)
def test_status_row_when_code_is_unknown(status, error, retryable):
    err = classify(message="m", status_code=status, code="SomethingNew", codes=DASHSCOPE_CODES)
    assert type(err) is error
    assert err.retryable is retryable


def test_billing_429_is_not_a_rate_limit():
    err = classify(message="pay", status_code=429, code="PrepaidBillOverdue", codes=DASHSCOPE_CODES)
    assert isinstance(err, PermissionDeniedError)
    assert not isinstance(err, RateLimitError)
    assert err.retryable is False


def test_error_under_success_code_is_classified_by_message():
    err = classify(message="The token is illegal.", status_code=200, code=200)
    assert isinstance(err, AuthenticationError)
    other = classify(message="Something odd.", status_code=200, code=200)
    assert type(other) is APIError


def test_str_names_status_code_and_request_id():
    err = classify(message="Bad.", status_code=400, code="InvalidParameter", request_id="r-1")
    assert str(err) == "Bad. (HTTP 400, code='InvalidParameter', request_id=r-1)"


def test_tree():
    for cls in (APIError, APIConnectionError, ResponseFormatError):
        assert issubclass(cls, ZillizBailianError)
    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(ResponseFormatError, APIError)


def test_errors_import_without_frameworks():
    code = (
        "import langchain_zilliz_bailian.errors, langchain_zilliz_bailian.zilliz, sys;"
        "from langchain_zilliz_bailian.errors import APIError, AuthenticationError, "
        "RateLimitError, APITimeoutError;"
        "assert 'langchain_core' not in sys.modules, 'langchain_core';"
        "assert 'llama_index' not in sys.modules and 'llama_index.core' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_old_table_names_still_read_both_vendor_tables():
    assert {**ZILLIZ_CODES.exact, **DASHSCOPE_CODES.exact} == errors.CODE_TABLE
    assert DASHSCOPE_CODES.prefixes == errors.CODE_PREFIX_TABLE
