"""`python -m worker report DIR` and `replay --report`: report.html opened in a real
headless browser (Debian's chromium), from a replay of the sample feed and from a live
run of it with OUT_DIR; bad directories give a clear page or one error line."""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Browser

from tests.browser import Opened, chromium, open_report
from worker.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "worker" / "data" / "sample_mes.csv"
UP, DOWN = (0x26, 0xA6, 0x9A), (0xEF, 0x53, 0x50)  # candle colours (adapters/report/page.py)


def worker(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SUPABASE", "TRADING"))}
    return subprocess.run(
        [sys.executable, "-m", "worker", *args],
        cwd=ROOT,
        env={**base, "LOG_FORMAT": "json", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def replay_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("replay")
    args = ["--input", str(SAMPLE), "--symbol", "MES", "--out", str(out), "--broker", "paper"]
    done = worker("replay", *args, "--no-progress", "--report")
    assert done.returncode == 0, done.stderr
    assert f"report: {out / 'report.html'}" in done.stderr
    return out


@pytest.fixture(scope="module")
def live_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make run` (the sample feed, paper broker) with OUT_DIR, then `report OUT_DIR`."""
    out = tmp_path_factory.mktemp("live")
    env = {"OUT_DIR": str(out), "SAMPLE_SPEED": "10000000", "BROKER": "paper", "HEALTH_PORT": "0"}
    done = worker("run", env=env)
    assert done.returncode == 0, done.stderr
    done = worker("report", str(out))
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as opened:
        yield opened


@pytest.fixture(scope="module")
def pages(browser: Browser, replay_dir: Path, live_dir: Path) -> dict[str, Opened]:
    return {
        "replay": open_report(browser, replay_dir / "report.html"),
        "live": open_report(browser, live_dir / "report.html"),
    }


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


RUNS = ["replay", "live"]


@pytest.mark.parametrize("run", RUNS)
def test_the_page_loads_without_a_console_error(pages: dict[str, Opened], run: str) -> None:
    opened = pages[run]
    assert opened.errors == []
    assert opened.page.title() == "Report: MES"


@pytest.mark.parametrize("run", RUNS)
def test_the_chart_draws(pages: dict[str, Opened], run: str) -> None:
    """A screenshot of the page shows candles of both colours, not a blank canvas."""
    shot = Image.open(io.BytesIO(pages[run].page.screenshot())).convert("RGB")
    colours = shot.getcolors(maxcolors=1 << 20) or []
    by_colour = {rgb: n for n, rgb in colours}
    assert by_colour.get(UP, 0) > 300 and by_colour.get(DOWN, 0) > 300


@pytest.mark.parametrize("run", RUNS)
def test_one_marker_per_buy_and_sell_line(
    pages: dict[str, Opened], replay_dir: Path, live_dir: Path, run: str
) -> None:
    directory = {"replay": replay_dir, "live": live_dir}[run]
    decisions = lines(directory / "decisions.jsonl")
    buys = sum(1 for d in decisions if d["action"] == "BUY")
    sells = sum(1 for d in decisions if d["action"] == "SELL")
    assert buys + sells > 0
    assert pages[run].count("buy_markers") == buys
    assert pages[run].count("sell_markers") == sells


@pytest.mark.parametrize("run", RUNS)
def test_one_table_row_per_trade_and_the_same_net_as_the_summary(
    pages: dict[str, Opened], replay_dir: Path, live_dir: Path, run: str
) -> None:
    directory = {"replay": replay_dir, "live": live_dir}[run]
    trades = lines(directory / "trades.jsonl")
    summary = json.loads((directory / "summary.json").read_text())
    page = pages[run].page
    rows = page.locator("#trades tbody tr")
    assert trades and rows.count() == len(trades)
    nets = [
        float(text.replace(",", "")) for text in page.locator("#trades td .net").all_inner_texts()
    ]
    assert nets == [t["net"] for t in trades]
    shown = float(page.locator("#net-total").inner_text().replace(",", ""))
    assert shown == summary["paper"]["net"]
    assert math.isclose(math.fsum(nets), summary["paper"]["net"], abs_tol=0.005)


def test_the_timeframe_switch_shows_one_set_of_candles(pages: dict[str, Opened]) -> None:
    opened = pages["replay"]
    visible = (
        "() => ['5m', '15m', '30m']"
        ".map(n => Bokeh.documents[0].get_model_by_name('candles_' + n).visible)"
    )
    assert opened.page.evaluate(visible) == [True, False, False]
    opened.page.get_by_text("15m", exact=True).first.click()
    opened.page.wait_for_function(
        "() => Bokeh.documents[0].get_model_by_name('candles_15m').visible"
    )
    assert opened.page.evaluate(visible) == [False, True, False]
    assert opened.errors == []


ZOOM = """async (hours) => {
  const xr = Bokeh.documents[0].get_model_by_name('time_axis');
  const end = xr.bounds[1], start = hours ? end - hours * 3600e3 : xr.bounds[0];
  xr.setv({start, end});
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  return Bokeh.documents[0].get_model_by_name('candles_5m').data_source.get_length();
}"""


def test_the_candles_drawn_follow_the_view(pages: dict[str, Opened], live_dir: Path) -> None:
    """Two hours in view: the candles of six hours are drawn; the whole run: all of them."""
    five = sum(1 for bar in lines(live_dir / "bars.jsonl") if bar["timeframe"] == "5m")
    page = pages["live"].page
    assert 24 <= page.evaluate(ZOOM, 2) <= 6 * 12 + 1
    assert page.evaluate(ZOOM, 0) == five
    assert pages["live"].errors == []


TOOLTIP = """() => {
  const out = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) walk(el.shadowRoot);
      if (el.classList.contains('bk-tooltip-content')) out.push(el.textContent);
    }
  };
  walk(document);
  return out.join(' | ');
}"""


def test_hovering_a_candle_shows_its_values_and_the_decision(
    browser: Browser, replay_dir: Path
) -> None:
    opened = open_report(browser, replay_dir / "report.html")
    box = opened.page.locator(".bk-Figure").first.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    opened.page.mouse.move(x, y, steps=5)
    opened.page.mouse.move(x + 3, y, steps=2)
    opened.page.wait_for_function(f"() => ({TOOLTIP})().includes('decision')")
    text = opened.page.evaluate(TOOLTIP)
    for part in ("5m closing", "O H L C", "5m: EMA", "15m: EMA", "30m: EMA", "slope", "decision:"):
        assert part in text, text
    regimes = ("trend_up", "trend_down", "range", "insufficient")
    assert any(regime in text for regime in regimes), text
    assert any(f"decision: {action} " in text for action in ("HOLD", "BUY", "SELL")), text
    assert opened.errors == []


def test_the_live_run_wrote_its_parameters(live_dir: Path) -> None:
    run = json.loads((live_dir / "run.json").read_text())
    assert run["symbols"] == ["MES"] and run["source"].startswith("sample feed")
    assert run["paper"]["products"]["MES"] == {
        "tick_size": 0.25,
        "tick_value": 1.25,
        "fee_per_side": 0.37,
    }


# -- bad input: a clear page, or one line and exit 2 -----------------------------------------


def report(directory: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`python -m worker report DIR` in this process: (exit code, stderr)."""
    code = main(["report", str(directory)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.err


def one_error_line(result: tuple[int, str], *parts: str) -> None:
    code, stderr = result
    assert code == 2, stderr
    assert len(stderr.splitlines()) == 1, stderr
    assert stderr.startswith("report error: ")
    assert all(part in stderr for part in parts), stderr


def test_a_missing_directory_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = worker("report", str(tmp_path / "nope"))
    one_error_line((done.returncode, done.stderr), "no such directory")
    assert "Traceback" not in done.stdout + done.stderr


def test_a_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "f").write_text("x")
    one_error_line(report(tmp_path / "f", capsys), "is a file")


def test_a_directory_without_the_run_files_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bars.jsonl").write_text("")
    one_error_line(report(tmp_path, capsys), "no decisions.jsonl", "OUT_DIR")


def test_a_line_that_is_not_json_is_one_line(
    replay_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = copy(replay_dir, tmp_path)
    with (run / "bars.jsonl").open("a") as f:
        f.write("garbage\n")
    one_error_line(report(run, capsys), "bars.jsonl", "line 1657 is not a JSON object")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"symbol":"MES","timeframe":"5m"}', "line 1657 has no 'open_time'"),
        (
            '{"symbol":"MES","timeframe":"5m","open_time":"2025-06-12T21:00:00Z",'
            '"close_time":"2025-06-12T21:05:00Z","open":"abc","high":1,"low":1,"close":1,'
            '"ema":null,"slope":null,"regime":"range"}',
            "line 1657: 'open' is not a finite number",
        ),
        (
            '{"symbol":"MES","timeframe":"5m","open_time":"2025-06-12 21:00",'
            '"close_time":"2025-06-12T21:05:00Z","open":1,"high":1,"low":1,"close":1,'
            '"ema":null,"slope":null,"regime":"range"}',
            "line 1657: 'open_time' is not an ISO 8601 UTC time",
        ),
        (
            '{"symbol":"MES","timeframe":"5m","open_time":"2025-06-12T21:00:00Z",'
            '"close_time":"2025-06-12T21:05:00Z","open":1,"high":1,"low":1,"close":1,'
            '"ema":"x","slope":null,"regime":"range"}',
            "line 1657: 'ema' is not a number or null",
        ),
    ],
)
def test_a_line_without_a_field_or_of_the_wrong_type_is_one_line(
    replay_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, expected: str
) -> None:
    run = copy(replay_dir, tmp_path)
    with (run / "bars.jsonl").open("a") as f:
        f.write(line + "\n")
    one_error_line(report(run, capsys), expected)


def copy(run: Path, tmp_path: Path) -> Path:
    shutil.copytree(run, tmp_path / "run")
    (tmp_path / "run" / "report.html").unlink()
    return tmp_path / "run"


def test_a_line_cut_short_by_a_killed_run_is_left_out(
    browser: Browser, replay_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = copy(replay_dir, tmp_path)
    (run / "summary.json").unlink()
    with (run / "decisions.jsonl").open("a") as f:
        f.write('{"symbol":"MES","at":"2025-')
    assert report(run, capsys)[0] == 0
    opened = open_report(browser, run / "report.html")
    text = opened.page.inner_text("body")
    assert "decisions.jsonl: the last line was cut short" in text
    assert "No summary.json: the run has not finished" in text
    assert opened.errors == []


def test_an_empty_run_is_a_clear_page(
    browser: Browser, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A live run stopped before its first close: empty files, nothing to chart."""
    (tmp_path / "bars.jsonl").write_text("")
    (tmp_path / "decisions.jsonl").write_text("")
    assert report(tmp_path, capsys)[0] == 0
    opened = open_report(browser, tmp_path / "report.html", charts=False)
    assert "This run is empty" in opened.page.inner_text("body")
    assert opened.page.locator("#trades tbody tr").count() == 0
    assert opened.errors == []


def test_a_run_without_trades_jsonl_says_so(
    browser: Browser, replay_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A replay without --broker paper (or a live run still going) has no trades.jsonl."""
    run = copy(replay_dir, tmp_path)
    (run / "trades.jsonl").unlink()
    assert report(run, capsys)[0] == 0
    opened = open_report(browser, run / "report.html")
    assert "No trades.jsonl" in opened.page.inner_text("body")
    assert opened.page.locator("#trades tbody tr").count() == 0
    assert opened.count("buy_markers") > 0
    assert opened.errors == []


def test_a_paper_run_with_no_trades_says_so(
    browser: Browser, replay_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = copy(replay_dir, tmp_path)
    (run / "trades.jsonl").write_text("")
    assert report(run, capsys)[0] == 0
    opened = open_report(browser, run / "report.html")
    assert "No trades: the run closed no round trip." in opened.page.inner_text("body")
    assert opened.page.locator("#trades tbody tr").count() == 0
    assert opened.errors == []
