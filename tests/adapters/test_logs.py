"""The log contract: one JSON object per line, UTC ISO timestamps, secrets masked."""

from __future__ import annotations

import io
import json

import structlog

from adapters.logs import configure_logging


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_with_utc_timestamps() -> None:
    out = io.StringIO()
    configure_logging("INFO", "json", stream=out)
    structlog.get_logger().info("worker_started", symbols=["MES"])
    structlog.get_logger().debug("bar_closed")  # below the level: dropped
    (line,) = _lines(out)
    assert line["event"] == "worker_started" and line["level"] == "info"
    assert str(line["timestamp"]).endswith("Z")


def test_secrets_are_masked_in_fields_values_urls_and_exceptions() -> None:
    out = io.StringIO()
    configure_logging("INFO", "json", secrets=["super-secret-api-key-123"], stream=out)
    log = structlog.get_logger()
    log.info("login", api_key="super-secret-api-key-123", token="eyJhbGciOi.payload.sig")
    log.info("connect", url="wss://rtc.example/hubs/user?access_token=eyJabc.def.ghi&x=1")
    log.info("call", headers="Authorization: Bearer eyJabc.def.ghi")
    try:
        raise RuntimeError("login failed for key super-secret-api-key-123")
    except RuntimeError:
        log.exception("login_failed")
    text = out.getvalue()
    assert "super-secret-api-key-123" not in text
    assert "eyJ" not in text
    lines = _lines(out)
    assert lines[0]["api_key"] == "***" and lines[0]["token"] == "***"
    assert lines[1]["url"] == "wss://rtc.example/hubs/user?access_token=***&x=1"
    assert "***" in str(lines[3]["exception"])
