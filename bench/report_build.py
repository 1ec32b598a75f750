"""How long report.html takes to build and to become usable in a browser.

Three runs, each replayed (or run live) into a directory with the paper broker, then
`write_report` on it, timed in this process (reading the files, building the page,
writing it); then the page is opened in Debian's chromium, headless (Playwright):
- load: from navigation to Bokeh's "document idle" (every panel drawn, tools live);
- zoom out: the whole run in view at once (every candle drawn), until the next frame;
- pan: a tenth of the initial view to the left, until the next frame.
Runs: the bundled sample feed replayed; the same feed through the live worker with
OUT_DIR (`make run`, at a speed that streams its last session in a second); a year of
quirky rows (bench/quirky_year.py, ~70k 5m candles). Targets: a year builds in <= 10 s
and is interactive within 5 s.

    .venv/bin/python bench/report_build.py [--days 364] [--out DIR] [--screenshots docs]
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image
from playwright.sync_api import Browser, sync_playwright
from quirky_year import write as write_year

from adapters.logs import configure_logging
from adapters.report.build import write_report
from worker.replay import replay_csv
from worker.settings import SAMPLE_FEED, load_settings

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
IDLE = "() => window.Bokeh && Bokeh.documents.length > 0 && Bokeh.documents[0].is_idle"
# Set the time axis, then wait for the frame after the one that draws it.
MOVE = """async ([start, end]) => {
  const xr = Bokeh.documents[0].get_model_by_name('time_axis');
  const t = performance.now();
  xr.setv({start: start ?? xr.bounds[0], end: end ?? xr.bounds[1]});
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  return performance.now() - t;
}"""
PAN = """async () => {
  const xr = Bokeh.documents[0].get_model_by_name('time_axis');
  const step = (xr.end - xr.start) / 10;
  const t = performance.now();
  xr.setv({start: xr.start - step, end: xr.end - step});
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  return performance.now() - t;
}"""


def replayed(feed: Path, out: Path) -> Path:
    replay_csv(feed, "MES", out, load_settings(), paper=True)
    return out


def live(out: Path) -> Path:
    """The sample feed through `python -m worker run` with OUT_DIR (the paper broker)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPABASE", "TRADING"))}
    env.update(
        {"OUT_DIR": str(out), "SAMPLE_SPEED": "10000000", "BROKER": "paper", "HEALTH_PORT": "0"}
    )
    subprocess.run(
        [sys.executable, "-m", "worker", "run"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=300,
    )
    return out


def in_browser(browser: Browser, page_path: Path, shot: Path | None) -> dict[str, float]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    started = time.perf_counter()
    page.goto(page_path.as_uri())
    page.wait_for_function(IDLE, timeout=120_000, polling=20)
    load_s = time.perf_counter() - started
    if shot is not None:
        image = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB")
        image.quantize(colors=128).save(shot, optimize=True)  # a palette PNG: small
    view = page.evaluate("() => { const x = Bokeh.documents[0].get_model_by_name('time_axis');"
                         " return [x.start, x.end]; }")  # fmt: skip
    pan_ms = page.evaluate(PAN)
    zoom_out_ms = page.evaluate(MOVE, [None, None])
    back_ms = page.evaluate(MOVE, view)
    page.close()
    if errors:
        raise SystemExit(f"console errors in {page_path}: {errors[:3]}")
    return {"load_s": load_s, "pan_ms": pan_ms, "zoom_out_ms": zoom_out_ms, "back_ms": back_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=364, help="days of quirky rows (a year)")
    parser.add_argument("--out", type=Path, help="keep the runs here (default: a temp dir)")
    parser.add_argument("--screenshots", type=Path, help="write report-*.png here (docs/)")
    args = parser.parse_args()
    configure_logging("ERROR", "json")  # the replays' rejected rows are not the point here
    base = args.out or Path(tempfile.mkdtemp(prefix="report-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    year_csv = base / "year.csv"
    rows = write_year(year_csv, args.days)
    runs = {
        "sample replay": lambda: replayed(SAMPLE_FEED, base / "sample-replay"),
        "sample live (make run, OUT_DIR)": lambda: live(base / "sample-live"),
        f"year: {args.days} days, {rows:,} rows": lambda: replayed(year_csv, base / "year"),
    }
    shots = ["report-sample-replay.png", "report-sample-live.png", "report-year.png"]
    print(f"{'run':<36} {'candles':>8} {'build s':>8} {'MB':>6} {'load s':>7} "
          f"{'pan ms':>7} {'all ms':>7}")  # fmt: skip
    built = []
    for label, make in runs.items():  # every run first: Playwright's sync API owns a loop
        directory = make()
        started = time.perf_counter()
        report = write_report(directory)
        built.append((label, directory, report, time.perf_counter() - started))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for (label, directory, report, build_s), shot in zip(built, shots, strict=True):
            target = args.screenshots / shot if args.screenshots else None
            seen = in_browser(browser, report.path, target)
            candles = sum(1 for line in (directory / "bars.jsonl").open() if '"5m"' in line)
            print(
                f"{label:<36} {candles:>8,} {build_s:>8.2f} {report.size / 1e6:>6.1f} "
                f"{seen['load_s']:>7.2f} {seen['pan_ms']:>7.0f} {seen['zoom_out_ms']:>7.0f}"
            )
        browser.close()
    print("load: navigation to Bokeh's document idle; pan: a tenth of the view; all: the whole")
    print("run in view (every candle drawn); both until the next frame. Targets (a year):")
    print("build <= 10 s, interactive (load) <= 5 s.")


if __name__ == "__main__":
    main()
