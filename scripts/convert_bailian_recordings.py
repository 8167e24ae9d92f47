"""Convert the real Bailian app recordings into vcrpy YAML cassettes, one per exchange.

Source: ``tests/fixtures/bailian-recordings/`` (raw HTTP exchanges with DashScope from the
MIT-licensed test data of github.com/cnblogs/dashscope-sdk, licence beside them). Each exchange
``NAME`` has ``NAME.request.header.txt``, ``NAME.request.body.json``, ``NAME.response.header.txt``
and ``NAME.response.body.txt``; it becomes ``cassettes/test_bailian_recordings/NAME.yaml``.

On the way: the UTF-8 byte-order marks the recording tool wrote are stripped; a gzip body is
decompressed and ``Content-Encoding`` dropped (cassettes store bodies decoded; these recordings
were already decoded although their headers still say gzip); ``Transfer-Encoding`` is replaced
by the decoded ``Content-Length``; ``Authorization`` and the workspace header become
``PLACEHOLDER``. The license is copied beside the cassettes with a note of origin.

    .venv/bin/python scripts/convert_bailian_recordings.py [--source DIR] [--dest DIR]
"""

from __future__ import annotations

import argparse
import gzip
import shutil
from pathlib import Path

from vcr.request import Request
from vcr.serialize import serialize
from vcr.serializers import yamlserializer

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tests" / "fixtures" / "bailian-recordings"
DEST = ROOT / "cassettes" / "test_bailian_recordings"
LICENSE = "LICENSE.cnblogs-dashscope-sdk"
ORIGIN = (
    "Cassettes converted by scripts/convert_bailian_recordings.py from real DashScope exchanges "
    f"in the test data of github.com/cnblogs/dashscope-sdk (MIT, see {LICENSE}).\n"
)

BOM = b"\xef\xbb\xbf"
REDACTED = {"authorization", "x-dashscope-workspace"}
DROPPED = {"content-encoding", "transfer-encoding", "content-length"}


def read(path: Path) -> bytes:
    """The file's bytes without the recording tool's byte-order mark."""
    data = path.read_bytes()
    return data[len(BOM) :] if data.startswith(BOM) else data


def parse_head(text: str) -> tuple[str, list[tuple[str, str]]]:
    """The start line and the headers, in order, of a recorded header block."""
    lines = [line for line in text.splitlines() if line.strip()]
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return lines[0].strip(), headers


def grouped(headers: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Headers as vcrpy stores them: name -> list of values, secrets replaced."""
    out: dict[str, list[str]] = {}
    for name, value in headers:
        out.setdefault(name, []).append("PLACEHOLDER" if name.lower() in REDACTED else value)
    return out


def decoded(body: bytes) -> bytes:
    """The body with any gzip encoding removed."""
    while body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    return body


def convert(source: Path, name: str) -> str:
    """The YAML cassette of exchange ``name``."""
    request_line, request_headers = parse_head(read(source / f"{name}.request.header.txt").decode())
    method, target, _ = request_line.split(" ", 2)
    host = next(value for key, value in request_headers if key.lower() == "host")
    request = Request(
        method,
        f"https://{host}{target}",
        read(source / f"{name}.request.body.json"),
        grouped([(k, v) for k, v in request_headers if k.lower() != "content-length"]),
    )

    status_line, response_headers = parse_head(
        read(source / f"{name}.response.header.txt").decode()
    )
    _, code, *reason = status_line.split(" ", 2)
    body = decoded(read(source / f"{name}.response.body.txt"))
    headers = grouped([(k, v) for k, v in response_headers if k.lower() not in DROPPED])
    headers["Content-Length"] = [str(len(body))]
    response = {
        "status": {"code": int(code), "message": reason[0] if reason else ""},
        "headers": headers,
        "body": {"string": body},
    }
    return str(serialize({"requests": [request], "responses": [response]}, yamlserializer))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--dest", type=Path, default=DEST)
    args = parser.parse_args()
    args.dest.mkdir(parents=True, exist_ok=True)
    names = sorted(
        p.name.removesuffix(".request.header.txt") for p in args.source.glob("*.request.header.txt")
    )
    for name in names:
        (args.dest / f"{name}.yaml").write_text(convert(args.source, name), encoding="utf-8")
        print(f"{name}.yaml")
    shutil.copyfile(args.source / LICENSE, args.dest / LICENSE)
    (args.dest / "README.md").write_text(ORIGIN, encoding="utf-8")


if __name__ == "__main__":
    main()
