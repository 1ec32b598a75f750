"""`python -m worker report DIR`: DIR/report.html from a run's output directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from adapters.report.load import ReportError, load_run
from adapters.report.page import render

REPORT = "report.html"

__all__ = ["REPORT", "Report", "ReportError", "write_report"]


@dataclass(frozen=True, slots=True)
class Report:
    path: Path
    size: int  # bytes
    bars: int
    decisions: int
    trades: int
    markers: int  # BUY and SELL markers drawn

    def line(self) -> str:
        return (
            f"report: {self.path} ({self.size / 1e6:.1f} MB; {self.bars} bars, "
            f"{self.decisions} decisions, {self.markers} BUY/SELL, {self.trades} trades)"
        )


def write_report(directory: Path, symbol: str | None = None) -> Report:
    """Read `directory`, write `directory/report.html`. ReportError: one line to show."""
    run = load_run(directory)
    page, counts = render(run, symbol)  # every value it reads was checked by load_run
    path = directory / REPORT
    try:
        path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"report error: cannot write {path} ({exc.strerror or exc})") from None
    return Report(path, path.stat().st_size, **counts)
