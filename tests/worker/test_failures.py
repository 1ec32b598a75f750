"""Every start-up failure the adapters raise maps to the setting to fix (permanent), to a
retry (transient), or to nothing (unexpected: a crash). Only worker/ knows the names."""

from __future__ import annotations

import httpx
import pytest

from adapters.projectx.client import AuthError, GatewayError
from adapters.projectx.errors import ContractNotFound, UnknownAccount
from adapters.supabase.rest import HistoryError
from worker.failures import Permanent, Transient, classify

LOGIN = "/api/Auth/loginKey"


@pytest.mark.parametrize(
    ("exc", "setting", "words"),
    [
        (AuthError(LOGIN, 3, "login refused"), "PROJECTX_API_KEY", ("errorCode 3",)),
        (AuthError(LOGIN, None, "login refused", 401), "PROJECTX_API_KEY", ("HTTP 401",)),
        (GatewayError("/api/Account/search", None, "Forbidden", 403), "PROJECTX_API_KEY",
         ("403", "/api/Account/search")),
        (HistoryError("HTTP 401 PGRST301 Invalid API key", 401, "PGRST301"), "SUPABASE_KEY",
         ("PGRST301",)),
        (HistoryError("HTTP 403 42501 permission denied", 403, "42501"), "SUPABASE_KEY", ()),
        (HistoryError("HTTP 404 PGRST205 no table", 404, "PGRST205"), "SUPABASE_TABLE",
         ("SUPABASE_SCHEMA",)),
        (HistoryError("HTTP 404 42P01 no relation", 404, "42P01"), "SUPABASE_TABLE", ()),
        (HistoryError("HTTP 404", 404, None), "SUPABASE_TABLE", ()),
        (HistoryError("HTTP 406 PGRST106 schema", 406, "PGRST106"), "SUPABASE_SCHEMA", ()),
        (HistoryError("HTTP 400 42703 no column", 400, "42703"), "SUPABASE_TABLE", ("column",)),
        (ContractNotFound("MES"), "SYMBOLS", ("MES", "OVERRIDE_CONTRACT_ID")),
        (UnknownAccount(1002), "ACCOUNT_ALT", ("1002",)),
        (UnknownAccount(9), "ACCOUNT_<NAME>", ("9",)),
    ],
)  # fmt: skip
def test_permanent_failures_name_the_setting(
    exc: BaseException, setting: str, words: tuple[str, ...]
) -> None:
    verdict = classify(exc, {1001: "main", 1002: "alt"})
    assert isinstance(verdict, Permanent)
    assert verdict.setting == setting
    assert verdict.line.startswith(f"config error: {setting}: ")
    assert "\n" not in verdict.line
    assert all(word in verdict.line for word in words), verdict.line


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("All connection attempts failed"),
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected"),
        TimeoutError(),
        ConnectionResetError(104, "Connection reset by peer"),
        GatewayError("/api/Auth/loginKey", None, "Bad Gateway", 502),
        GatewayError("/api/Contract/search", None, "Too Many Requests", 429),
        GatewayError("/api/Account/search", None, "Unauthorized", 401),
        HistoryError("HTTP 503", 503, "PGRST000"),
        HistoryError("HTTP 429", 429, None),
        HistoryError("HTTP 504", 504, None),
        HistoryError("unexpected history answer: <html>"),  # a proxy's page, say
    ],
)
def test_transient_failures_are_retried(exc: BaseException) -> None:
    assert isinstance(classify(exc), Transient)


@pytest.mark.parametrize(
    "exc",
    [
        RuntimeError("a bug"),
        KeyError("x"),
        GatewayError("/api/Account/search", 7, "success: false"),  # an answer, not a fault
        HistoryError("HTTP 400 PGRST100 bad filter", 400, "PGRST100"),
    ],
)
def test_anything_else_is_unexpected(exc: BaseException) -> None:
    assert classify(exc) is None
