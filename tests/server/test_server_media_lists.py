"""The local app accepts image_list / file_list of http(s) URLs (no vision) and refuses others."""

from __future__ import annotations

import httpx
import pytest

APP = "/api/v1/apps/0123456789abcdef0123456789abcdef/completion"


def test_url_lists_are_accepted(http: httpx.Client) -> None:
    answer = http.post(
        APP,
        json={
            "input": {
                "prompt": "Describe it.",
                "image_list": ["https://x.test/a.png"],
                "file_list": ["http://x.test/b.pdf"],
            },
            "parameters": {},
        },
    )
    assert answer.status_code == 200
    assert answer.json()["output"]["text"].startswith('You said: "Describe it."')


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("image_list", "https://x.test/a.png"),
        ("image_list", ["data:image/png;base64,iVBORw0KGgo="]),
        ("file_list", [1]),
    ],
)
def test_malformed_lists_are_invalid_parameters(
    http: httpx.Client, key: str, value: object
) -> None:
    answer = http.post(APP, json={"input": {"prompt": "hi", key: value}, "parameters": {}})
    assert answer.status_code == 400
    assert answer.json()["code"] == "InvalidParameter"
    assert key in answer.json()["message"]
