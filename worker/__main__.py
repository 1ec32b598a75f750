"""`python -m worker run | replay | check-config`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

import structlog

from adapters import events
from adapters.files.csv_source import CsvFormatError
from adapters.logs import configure_logging, mask_text
from adapters.report.load import ReportError
from worker.failures import Permanent, Transient, classify, describe
from worker.settings import ConfigError, Settings, load_settings
from worker.startup import StartupRefused


def main(argv: list[str] | None = None) -> int:
    """Exit 0: done (or stopped by a signal). Exit 2: one line on stderr, the operator
    must fix something (a setting, a refused key, a missing table, a bad path); systemd
    does not restart it. Exit 1: unexpected (a bug), one `worker_crashed` JSON line."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "check-config":
            print(json.dumps(load_settings().masked(), indent=2, default=str))
            return 0
        if args.command == "replay":
            return _replay(args)
        if args.command == "report":
            return _report(args.dir, args.symbol)
        return _run()
    except (ConfigError, StartupRefused, ReportError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # stdout closed under us (`| head`, a dead log shipper)
        _stdout_closed()
        return 1
    except Exception as exc:  # noqa: BLE001 -- a bug: one JSON line, no traceback on stderr
        _crashed(exc)
        return 1


def _stdout_closed() -> None:
    """The log stream is gone, so the worker stops (it must not trade unseen): one line
    on stderr; stdout pointed at /dev/null so the interpreter's exit flush stays quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    print("worker stopped: its log output (stdout) was closed", file=sys.stderr)


def _crashed(exc: Exception) -> None:
    """`worker_crashed` on stdout, masked like every log line (with the secrets known to
    the logging set up by `run`/`replay`; before that, by pattern only)."""
    if not structlog.is_configured():
        configure_logging("INFO", "json")
    events.worker_crashed(exc, error=describe(exc))


# What queued notifications get at exit (one attempt each): within the 2 s stop budget.
NOTIFY_CLOSE_S = 0.5


def _run() -> int:
    from worker.app import build
    from worker.run import run

    settings = load_settings()
    app = build(settings)
    try:
        return asyncio.run(run(app))
    except (ConfigError, StartupRefused, KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as exc:  # noqa: BLE001 -- a bug: logged (and notified) as main does
        _crashed(exc)
        return 1
    finally:
        if app.notifier is not None:  # after the last event: worker_stopped or _crashed
            app.notifier.close(NOTIFY_CLOSE_S)


def _replay(args: argparse.Namespace) -> int:
    from worker.replay import replay_csv

    overrides = {
        key: value
        for key, value in {
            "warmup_bars": args.warmup_bars,
            "ema_period": args.ema_period,
            "slope_window": args.slope_window,
            "slope_threshold": args.slope_threshold,
        }.items()
        if value is not None
    }
    settings = load_settings(**overrides)
    configure_logging(args.log_level or settings.log_level, settings.log_format, settings.secrets())
    if args.source == "supabase":
        return _replay_supabase(args, settings)
    _readable_file(args.input)
    _writable_dir(args.out)
    try:
        summary = replay_csv(
            args.input,
            args.symbol,
            args.out,
            settings,
            progress=not args.no_progress,
            paper=args.broker == "paper",
        )
    except CsvFormatError as exc:
        raise ConfigError(f"config error: --input: {exc}") from None
    print(json.dumps(summary, sort_keys=True), file=sys.stderr)
    return _report(args.out, args.symbol) if args.report else 0


def _report(directory: Path, symbol: str | None) -> int:
    """DIR/report.html; its path and size on stderr (stdout is the log stream)."""
    from adapters.report.build import write_report

    print(write_report(directory, symbol).line(), file=sys.stderr)
    return 0


def _readable_file(path: Path | None) -> None:
    if path is None:
        raise ConfigError(
            "config error: --input: required with --source csv; example: --input export.csv"
        )
    if path.is_dir():
        raise ConfigError(f"config error: --input: {str(path)!r} is a directory, not a CSV file")
    if not path.exists():
        raise ConfigError(f"config error: --input: no such file {str(path)!r}")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ConfigError(
            f"config error: --input: cannot read {str(path)!r} ({exc.strerror or exc})"
        ) from None


def _writable_dir(path: Path) -> None:
    """Create `--out` (and its parents) and prove a file can be written in it, before
    anything is read."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"config error: --out: {str(path)!r} is a file, not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ConfigError(
            f"config error: --out: cannot write into {str(path)!r} ({exc.strerror or exc})"
        ) from None


def _replay_supabase(args: argparse.Namespace, settings: Settings) -> int:
    from adapters.supabase.rest import HistoryClient, RestConfig, TableSource
    from engine.timefmt import parse_iso
    from worker.app import build_replay
    from worker.replay import replay

    if not (settings.supabase_url and settings.supabase_key):
        raise ConfigError("config error: SUPABASE_URL: required for --source supabase")
    try:
        since = parse_iso(args.since or "")
        until = parse_iso(args.until) if args.until else None
        if until is not None and until <= since:
            raise ConfigError(
                f"config error: --until: must be after --since ({args.since}); "
                "example: --since 2025-06-16T00:00:00Z --until 2025-06-17T00:00:00Z"
            )
    except ValueError:
        raise ConfigError(
            "config error: --since/--until: ISO 8601 with offset; example: 2025-06-16T00:00:00Z"
        ) from None
    _writable_dir(args.out)
    client = HistoryClient(
        RestConfig(
            url=settings.supabase_url,
            key=settings.supabase_key.get_secret_value(),
            table=settings.supabase_table,
            schema=settings.supabase_schema,
            page_size=settings.history_page_size,
        )
    )
    app = build_replay(
        settings,
        source=TableSource(client, args.symbol, since, until),
        symbol=args.symbol,
        out_dir=args.out,
        paper=args.broker == "paper",
    )
    try:
        source = f"supabase {settings.supabase_table} {args.since} .. {args.until or 'now'}"
        summary = asyncio.run(replay(app, args.out, source=source, progress=not args.no_progress))
    except Exception as exc:
        _refused_read(exc, settings)
        raise
    print(json.dumps(summary, sort_keys=True), file=sys.stderr)
    return _report(args.out, args.symbol) if args.report else 0


def _refused_read(exc: Exception, settings: Settings) -> None:
    """A failed read of the table: one line (exit 2) when it is Supabase's answer or
    absence; nothing when it is unexpected (the caller re-raises: a crash)."""
    verdict = classify(exc)
    if isinstance(verdict, Permanent):
        raise ConfigError(mask_text(verdict.line, settings.secrets())) from None
    if isinstance(verdict, Transient):
        reason = mask_text(verdict.reason, settings.secrets())
        raise ConfigError(
            f"replay error: SUPABASE_URL: Supabase did not answer ({reason}); the replay "
            "stopped unfinished (no summary.json); run it again"
        ) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m worker")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="the always-on worker (sample feed when no SUPABASE_URL)")
    sub.add_parser("check-config", help="print the effective settings, secrets masked")
    replay = sub.add_parser("replay", help="run the engine over a tv_datafeed CSV export")
    replay.add_argument("--source", choices=["csv", "supabase"], default="csv")
    replay.add_argument("--input", type=Path, help="CSV export of tv_datafeed (--source csv)")
    replay.add_argument("--since", help="ISO 8601 start, inclusive (--source supabase)")
    replay.add_argument("--until", help="ISO 8601 end, exclusive (--source supabase)")
    replay.add_argument(
        "--symbol",
        required=True,
        type=lambda text: text.strip().upper(),
        help="TradingView root, e.g. MES (any case: mes is MES)",
    )
    replay.add_argument("--out", type=Path, required=True, help="output directory")
    replay.add_argument("--warmup-bars", type=int)
    replay.add_argument("--ema-period", type=int)
    replay.add_argument("--slope-window", type=int)
    replay.add_argument("--slope-threshold", type=float)
    replay.add_argument(
        "--broker",
        choices=["none", "paper"],
        default="none",
        help="none: flat book, nothing sent; paper: simulated fills and OCO",
    )
    replay.add_argument(
        "--report", action="store_true", help="write OUT/report.html at the end (see report)"
    )
    replay.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    replay.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    report = sub.add_parser(
        "report", help="DIR/report.html from the output directory of a replay or a live run"
    )
    report.add_argument("dir", type=Path, help="a replay's --out or a live run's OUT_DIR")
    report.add_argument(
        "--symbol",
        type=lambda text: text.strip().upper(),
        help="the symbol to chart (default: the first in the files)",
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
