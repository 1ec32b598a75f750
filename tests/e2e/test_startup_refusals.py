"""What the operator must fix stops `python -m worker run` at once: exit 2, exactly one
stderr line `config error: <SETTING>: ...` naming the setting, nothing else on stderr (the
JSON log lines on stdout may say more), no retry of a refusal. What no one can fix from
outside (a bug) is one `worker_crashed` JSON line and exit 1, never a traceback on
stderr, from `run`, `replay` or `check-config`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.livekit import NO_HUB, ROOT
from tests.e2e.test_worker_config import clean_env, run_cli
from tests.fakes.pg_fixtures import API_KEY
from tests.fakes.postgrest import FakePostgrest
from tests.fakes.projectx_gateway import FakeProjectX
from tests.feedgen import make_rows, write_csv

PX_KEY = "px-key-4b1d9e"
PROJECTX = {
    "BROKER": "projectx", "PROJECTX_USERNAME": "trader", "PROJECTX_API_KEY": PX_KEY,
    "ACCOUNT_MAIN": "1001", "TRADE_ACCOUNTS": "main", "PROJECTX_USER_HUB_URL": NO_HUB,
    "HEALTH_HOST": "127.0.0.1", "SAMPLE_SPEED": "100000", "SAMPLE_LIVE_ROWS": "60",
}  # fmt: skip


def events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def assert_refused(
    result: subprocess.CompletedProcess[str], setting: str, *mentions: str, secret: str = ""
) -> None:
    shown = f"rc={result.returncode}\nstdout={result.stdout[-1500:]}\nstderr={result.stderr!r}"
    assert "Traceback" not in result.stderr + result.stdout, shown
    assert result.returncode == 2, shown
    lines = result.stderr.splitlines()
    assert len(lines) == 1, shown
    assert lines[0].startswith(f"config error: {setting}: "), shown
    assert all(m in lines[0] for m in mentions), shown
    if secret:
        assert secret not in result.stdout + result.stderr, shown
    failed = [e for e in events(result.stdout) if e["event"] == "startup_failed"]
    assert [e["setting"] for e in failed] == [setting], shown
    assert not [e for e in events(result.stdout) if e["event"] == "startup_retry"], shown


@pytest.mark.parametrize("answer", ["success_false", "http_401", "http_403"])
async def test_a_refused_login_exits_2_naming_the_api_key(answer: str, tmp_path: Path) -> None:
    # success_false: the gateway's own answer to a wrong key (errorCode 3).
    known = "another-key" if answer == "success_false" else PX_KEY
    async with FakeProjectX(username="trader", api_key=known) as gateway:
        if answer != "success_false":
            gateway.fail_next("Auth/loginKey", int(answer[-3:]), n=None)
        env = clean_env(**PROJECTX, PROJECTX_BASE_URL=gateway.url,
                        STATE_DIR=str(tmp_path / "state"))  # fmt: skip
        result = await asyncio.to_thread(run_cli, ["run"], env, tmp_path)
        logins = gateway.logins
    assert_refused(result, "PROJECTX_API_KEY", "PROJECTX_USERNAME", secret=PX_KEY)
    assert logins == 1  # a refusal is not retried


@pytest.mark.parametrize(
    ("key", "table", "setting"),
    [("wrong-key", "tv_datafeed", "SUPABASE_KEY"), (API_KEY, "tv_missing", "SUPABASE_TABLE")],
)
async def test_supabase_refusing_the_warm_up_exits_2_naming_the_setting(
    key: str, table: str, setting: str, fake_postgrest: FakePostgrest, tmp_path: Path
) -> None:
    env = clean_env(
        SUPABASE_URL=fake_postgrest.url, SUPABASE_KEY=key, SUPABASE_TABLE=table, BROKER="none",
        HEALTH_HOST="127.0.0.1",
    )  # fmt: skip
    result = await asyncio.to_thread(run_cli, ["run"], env, tmp_path)
    assert_refused(result, setting, secret=key if key != API_KEY else "")
    assert len(fake_postgrest.requests) == 1  # a refusal is not retried


CRASH = """
import os, runpy
runpy.run_path(os.environ["NETGUARD"])  # the suite's loopback guard stays on
from adapters.files import csv_source
from worker import settings

def boom(*args, **kwargs):
    raise RuntimeError("a bug, with apikey=%s in its message" % os.environ["LEAKED"])

async def boom_async(*args, **kwargs):
    boom()
    yield

csv_source.SampleFeed.warm_up = boom_async
csv_source.CsvRows.count_lines = boom
csv_source.CsvSource.events = boom_async
settings.Settings.masked = boom
"""


@pytest.mark.parametrize("command", ["run", "replay", "check-config"])
def test_an_unexpected_exception_is_one_json_line_and_exit_1(command: str, tmp_path: Path) -> None:
    """A bug (planted in the child process by a sitecustomize) in each command."""
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(CRASH)
    netguard = ROOT / "tests" / "netguard" / "sitecustomize.py"
    env = clean_env(
        PYTHONPATH=os.pathsep.join([str(shim), str(ROOT)]), NETGUARD=str(netguard),
        LEAKED=PX_KEY, PROJECTX_API_KEY=PX_KEY, BROKER="none",
    )  # fmt: skip
    feed = write_csv(tmp_path / "feed.csv", make_rows(50))
    args = {
        "run": ["run"],
        "replay": ["replay", "--input", str(feed), "--symbol", "MES", "--out",
                   str(tmp_path / "out"), "--no-progress"],
        "check-config": ["check-config"],
    }[command]  # fmt: skip
    result = run_cli(args, env, tmp_path)
    shown = f"rc={result.returncode}\nstdout={result.stdout[-1500:]}\nstderr={result.stderr!r}"
    assert result.returncode == 1, shown
    assert result.stderr == "", shown
    crashed = [e for e in events(result.stdout) if e["event"] == "worker_crashed"]
    assert len(crashed) == 1, shown
    assert crashed[0]["error_type"] == "RuntimeError", shown
    assert "a bug" in crashed[0]["error"] and PX_KEY not in result.stdout, shown


def test_a_closed_stdout_stops_the_worker_with_one_line(tmp_path: Path) -> None:
    """`run | head -1`, or a log shipper that dies: the worker cannot be watched, so it
    stops — one line on stderr, no traceback."""
    env = clean_env(BROKER="paper", SAMPLE_SPEED="10000000")
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker", "run"], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # the reader goes away
    err = proc.stderr.read()
    assert proc.wait(30) == 1
    assert json.loads(first)["event"] == "worker_started"
    assert err == "worker stopped: its log output (stdout) was closed\n", err
