"""Which failures the operator must fix and which pass by themselves.

An exception at start-up (or in a replay's reads) is
- `Permanent`: no retry can help; the worker exits 2 with one line naming the setting
  to fix (systemd's `RestartPreventExitStatus=2` then stops a restart loop);
- `Transient`: the other side is down, slow or busy; retried with backoff, forever;
- neither (`classify` returns None): unexpected, a bug; `worker_crashed`, exit 1.

The adapters raise their own typed errors and know nothing of settings; only this module
maps them to the variables in `.env.example`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from adapters.projectx.client import AuthError, GatewayError
from adapters.projectx.errors import ContractNotFound, UnknownAccount
from adapters.supabase.rest import HistoryError

BUSY_STATUS = frozenset({408, 425, 429})  # and every 5xx: the other side will recover
TABLE_MISSING = frozenset({"PGRST205", "42P01"})  # PostgREST / PostgreSQL: no such table
COLUMN_MISSING = "42703"
SCHEMA_NOT_EXPOSED = "PGRST106"


@dataclass(frozen=True, slots=True)
class Permanent:
    setting: str  # the variable to fix, e.g. PROJECTX_API_KEY
    message: str  # one line: what is wrong and what to check

    @property
    def line(self) -> str:
        """The one stderr line, in the form of every configuration error."""
        return f"config error: {self.setting}: {self.message}"


@dataclass(frozen=True, slots=True)
class Transient:
    reason: str


def classify(
    exc: BaseException, account_names: Mapping[int, str] | None = None
) -> Permanent | Transient | None:
    """`account_names`: account id -> the NAME of its ACCOUNT_<NAME> variable."""
    if isinstance(exc, AuthError):
        return Permanent(
            "PROJECTX_API_KEY",
            f"ProjectX refused the login ({_gateway_detail(exc)}); check PROJECTX_USERNAME "
            "and PROJECTX_API_KEY (TopstepX: Settings -> API)",
        )
    if isinstance(exc, GatewayError):
        return _gateway(exc)
    if isinstance(exc, HistoryError):
        return _supabase(exc)
    if isinstance(exc, ContractNotFound):
        return Permanent(
            "SYMBOLS",
            f"{exc}; check SYMBOLS, CONTRACT_SYMBOLS and OVERRIDE_CONTRACT_ID",
        )
    if isinstance(exc, UnknownAccount):
        name = (account_names or {}).get(exc.account_id)
        setting = f"ACCOUNT_{name.upper()}" if name else "ACCOUNT_<NAME>"
        return Permanent(setting, f"{exc} of PROJECTX_USERNAME; check the account id")
    if isinstance(exc, httpx.TransportError | TimeoutError | ConnectionError):
        return Transient(describe(exc))
    return None


def describe(exc: BaseException) -> str:
    """`Type: message`, short; the caller masks it like any log field."""
    text = str(exc) or repr(exc)
    return f"{type(exc).__name__}: {text}"[:300]


def _gateway_detail(exc: GatewayError) -> str:
    return f"HTTP {exc.status}" if exc.status != 200 else f"errorCode {exc.code}"


def _gateway(exc: GatewayError) -> Permanent | Transient | None:
    if exc.status == 403:
        return Permanent(
            "PROJECTX_API_KEY",
            f"ProjectX forbids this key access to {exc.endpoint} (HTTP 403); check "
            "PROJECTX_USERNAME, PROJECTX_API_KEY and the account's API access",
        )
    if exc.status == 401:  # a token refused right after a login the key passed
        return Transient(f"ProjectX {exc.endpoint}: HTTP 401 with a fresh token")
    if _busy(exc.status):
        return Transient(f"ProjectX {exc.endpoint}: HTTP {exc.status}")
    return None


def _supabase(exc: HistoryError) -> Permanent | Transient | None:
    if exc.status in (401, 403):
        return Permanent(
            "SUPABASE_KEY",
            f"Supabase refused the key ({exc}); set the project's service or anon key",
        )
    if exc.code == SCHEMA_NOT_EXPOSED:
        return Permanent("SUPABASE_SCHEMA", f"the schema is not exposed over the API ({exc})")
    if exc.status == 404 or exc.code in TABLE_MISSING:
        return Permanent(
            "SUPABASE_TABLE",
            f"no such table ({exc}); check SUPABASE_TABLE, SUPABASE_SCHEMA and SUPABASE_URL, "
            "and that supabase/migrations/0001_tv_datafeed.sql ran",
        )
    if exc.code == COLUMN_MISSING:
        return Permanent("SUPABASE_TABLE", f"the table lacks a column the worker reads ({exc})")
    if _busy(exc.status) or exc.status is None:  # None: not PostgREST's answer (a proxy?)
        return Transient(f"Supabase: {exc}")
    return None


def _busy(status: int | None) -> bool:
    return status is not None and (status in BUSY_STATUS or status >= 500)
