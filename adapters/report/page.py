"""report.html: one self-contained page of a run (Bokeh, its JavaScript inlined).

Panels, all on one time axis (UTC): the price (candles of one timeframe at a time, the
EMA of each, get-flat windows shaded, BUY/SELL markers at the decision instant, paper
round trips entry -> exit coloured by result); the regime strip (one row per timeframe
and one of the decision's reason code, consecutive equal values drawn as one bar); the
equity (cumulative net after fees and its drawdown) and the net per trading day. Then
plain HTML tables: summary, trades, decisions by reason, the run's parameters.

Large runs: every candle and every BUY/SELL marker is drawn (a year of 5m bars is ~70k
candles, which Bokeh culls to the visible range); HOLD reasons and regimes are drawn as
runs of equal values, which a year reduces to a few thousand bars. The page opens on the
last ten days; the y axis follows the visible candles.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from bokeh.embed import file_html
from bokeh.layouts import column
from bokeh.models import (
    ColumnDataSource,
    CustomJS,
    CustomJSHover,
    DataRange1d,
    FactorRange,
    HoverTool,
    LinearColorMapper,
    NumeralTickFormatter,
    Range1d,
)
from bokeh.models.widgets import RadioButtonGroup
from bokeh.plotting import figure
from bokeh.resources import INLINE
from bokeh.transform import transform

from adapters.report.load import RunFiles
from adapters.report.stats import daily_net, decision_counts, trade_stats

MS = 1000.0
DASH = "\N{EN DASH}"  # no value
INITIAL_DAYS = 4  # the page opens on the last four days of the run
REGIME_COLORS = {
    "trend_up": "#2ca02c",
    "trend_down": "#d62728",
    "range": "#bcbd22",
    "insufficient": "#d9d9d9",
}
REASON_COLORS = {
    "aligned_uptrend": "#2ca02c",
    "aligned_downtrend": "#d62728",
    "range": "#bcbd22",
    "mixed_trend": "#ff7f0e",
    "position_open": "#1f77b4",
    "get_flat_window": "#9467bd",
    "insufficient_data": "#d9d9d9",
    "account_gate_block": "#000000",
}
OTHER_COLORS = ("#8c564b", "#e377c2", "#7f7f7f", "#17becf", "#aec7e8", "#ffbb78")
UP, DOWN = "#26a69a", "#ef5350"
TF_COLORS = ("#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2")
TOOLS = "xpan,xwheel_zoom,box_zoom,reset,save"

# Each panel's y axis follows what is in view (Bokeh's own ranges fit all the data): the
# lows and highs of the points from the last one before the view's start to its end.
FIT_Y = """
const x = src.data.x, lo = src.data.low, hi = src.data.high;
const a = xr.start, b = xr.end;
let i = 0, j = x.length;
while (i < j) { const m = (i + j) >> 1; if (x[m] < a) i = m + 1; else j = m; }
let min = Infinity, max = -Infinity;
for (let k = Math.max(i - 1, 0); k < x.length && x[k] <= b; k++) {
  if (lo[k] < min) min = lo[k];
  if (hi[k] > max) max = hi[k];
}
if (min <= max) {
  const pad = Math.max((max - min) * 0.05, 0.25);
  yr.start = min - pad;
  yr.end = max + pad;
}
"""
# What the candles and EMA lines draw: the bars in view and a view's width either side,
# cut anew from the whole run when a zoom or pan leaves that (Bokeh maps every point of
# a source to the screen on each frame: a year's 70k candles made a pan take 0.4 s).
WINDOW = """
const a = xr.start, b = xr.end, span = b - a;
for (let k = 0; k < full.length; k++) {
  const src = full[k], win = shown[k], x = src.data.x;
  const have = win.loaded ?? [-Infinity, Infinity];
  if (a >= have[0] && b <= have[1] && span * 6 >= have[1] - have[0]) continue;
  const from = a - span, to = b + span;
  let i = 0, j = x.length;
  while (i < j) { const m = (i + j) >> 1; if (x[m] < from) i = m + 1; else j = m; }
  let e = i;
  while (e < x.length && x[e] <= to) e++;
  const data = {};
  for (const key of Object.keys(src.data)) data[key] = src.data[key].slice(i, e);
  win.loaded = [from, to];
  win.data = data;
}
"""
SWITCH_TF = """
for (let k = 0; k < groups.length; k++) {
  for (const r of groups[k]) r.visible = (k === cb_obj.active);
}
"""


def render(run: RunFiles, symbol: str | None = None) -> tuple[str, dict[str, int]]:
    """The page's HTML and what it shows (counts, for the command's line and tests)."""
    chosen, others = _symbol(run, symbol)
    bars = [b for b in run.bars if b.get("symbol") == chosen]
    decisions = [d for d in run.decisions if d.get("symbol") == chosen]
    trades = [t for t in run.trades or [] if t.get("symbol") == chosen]
    params = run.run or {}
    notes = _notes(run, chosen, others, bars)
    title = f"Report: {chosen or 'empty run'}"
    if not bars:
        body = _header(run, title, notes, bars) + _tables(run, params, decisions, trades, 0.0)
        head = f"<meta charset='utf-8'><title>{html.escape(title)}</title>{STYLE}"
        page = f"<!DOCTYPE html>\n<html lang='en'><head>{head}</head><body>{body}</body></html>\n"
        return page, {"bars": 0, "decisions": len(decisions), "trades": len(trades), "markers": 0}
    frames = _frames(bars)
    span_s = (frames[0].close_time[-1] - frames[0].open_time[0]) / MS
    layout, markers = _charts(frames, decisions, trades, params)
    contents = (
        "{% block postamble %}" + STYLE + "{% endblock %}"
        "{% block contents %}{{ header }}{{ super() }}{{ tables }}{% endblock %}"
    )
    page = file_html(
        layout,
        INLINE,
        title=title,
        template=contents,
        template_variables={
            "header": _header(run, title, notes, bars),
            "tables": _tables(run, params, decisions, trades, span_s),
        },
    )
    counts = {
        "bars": len(bars),
        "decisions": len(decisions),
        "trades": len(trades),
        "markers": markers,
    }
    return page, counts


# -- data ----------------------------------------------------------------------------------


def _symbol(run: RunFiles, wanted: str | None) -> tuple[str | None, list[str]]:
    seen = list(dict.fromkeys(str(r.get("symbol")) for r in (*run.bars, *run.decisions)))
    if wanted is not None:
        return wanted.upper(), [s for s in seen if s != wanted.upper()]
    return (seen[0] if seen else None), seen[1:]


def _minutes(label: str) -> int:
    return int(label[:-1]) * (60 if label.endswith("h") else 1)


def _ms(texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """ISO 8601 UTC instants ('...Z') -> epoch milliseconds."""
    naive = np.array([t.rstrip("Z") for t in texts], dtype="datetime64[ms]")
    return naive.astype(np.int64).astype(np.float64)


def _floats(values: Sequence[Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.array([math.nan if v is None else v for v in values], dtype=np.float64)


class Frame:
    """One timeframe's bars as columns."""

    def __init__(self, label: str, rows: list[dict[str, Any]]) -> None:
        self.label = label
        self.minutes = _minutes(label)
        self.open_time = _ms([r["open_time"] for r in rows])
        self.close_time = _ms([r["close_time"] for r in rows])
        self.o = _floats([r["open"] for r in rows])
        self.h = _floats([r["high"] for r in rows])
        self.lo = _floats([r["low"] for r in rows])
        self.c = _floats([r["close"] for r in rows])
        self.ema = _floats([r["ema"] for r in rows])
        self.slope = _floats([r["slope"] for r in rows])
        self.regime = [str(r["regime"]) for r in rows]


def _frames(bars: list[dict[str, Any]]) -> list[Frame]:
    by_tf: dict[str, list[dict[str, Any]]] = {}
    for bar in bars:
        by_tf.setdefault(str(bar["timeframe"]), []).append(bar)
    # bars.jsonl has each timeframe's bars in close order (one writer, closes in order)
    frames = [Frame(label, rows) for label, rows in by_tf.items()]
    return sorted(frames, key=lambda f: f.minutes)


def _asof(frame: Frame, at: np.ndarray[Any, np.dtype[np.float64]]) -> np.ndarray[Any, Any]:
    """Index of `frame`'s last bar closed at or before each instant of `at` (-1: none)."""
    return np.searchsorted(frame.close_time, at, side="right") - 1


# -- charts --------------------------------------------------------------------------------


def _charts(
    frames: list[Frame],
    decisions: list[dict[str, Any]],
    trades: list[dict[str, Any]],
    params: dict[str, Any],
) -> tuple[Any, int]:
    base = frames[0]
    start, end = base.open_time[0], base.close_time[-1]
    first = max(start, end - INITIAL_DAYS * 86_400 * MS)
    pad = base.minutes * 60 * MS
    x_range = Range1d(
        start=first - pad, end=end + pad, bounds=(start - pad, end + pad), name="time_axis"
    )
    view = (float(first - pad), float(end + pad))
    price = _figure(
        "Price (UTC): candles, EMA per timeframe, BUY ▲ / SELL ▼, paper round trips",
        420,
        x_range,
        Range1d(start=0, end=1),
    )
    price.yaxis.formatter = NumeralTickFormatter(format="0,0.00")
    decided = {d["at"]: d for d in decisions}
    names = Names()  # every text first: the hover tools carry the finished list
    for text in sorted({r for f in frames for r in f.regime}):
        names.code(text)
    for text in sorted({t for d in decisions for t in (d["action"], d["reason_code"])}):
        names.code(text)
    _flat_windows(price, params, start, end)
    groups = []
    sources = [_candle_source(frame, frames, decided, names) for frame in frames]
    shown = [_window(source, view) for source in sources]
    price.x_range.js_on_change(
        "start", CustomJS(args={"full": sources, "shown": shown, "xr": x_range}, code=WINDOW)
    )
    for k, (frame, source) in enumerate(zip(frames, shown, strict=True)):
        groups.append(_candles(price, frame, frames, source, names, visible=k == 0))
        color = TF_COLORS[k % len(TF_COLORS)]
        price.line(
            "t1",
            f"ema_{frame.label}",
            source=source,
            color=color,
            line_width=1.5,
            legend_label=f"EMA {frame.label}",
        )
    markers = _markers(price, base, decisions)
    _round_trips(price, trades)
    price.legend.location = "top_left"
    price.legend.background_fill_alpha = 0.6
    price.legend.click_policy = "hide"
    _follow(price, sources[0], view)
    switch = RadioButtonGroup(labels=[f.label for f in frames], active=0, name="timeframe_switch")
    switch.js_on_change("active", CustomJS(args={"groups": groups}, code=SWITCH_TF))
    strip = _regime_strip(frames, decisions, x_range)
    equity, daily = _equity(trades, params, x_range, view, (start, end))
    layout = column(switch, price, strip, equity, daily, sizing_mode="stretch_width")
    return layout, markers


def _follow(fig: Any, source: ColumnDataSource, view: tuple[float, float]) -> None:
    """`fig`'s y axis fits the `low`..`high` of `source`'s points in view: now (`view`,
    the initial x range) and after every zoom or pan (FIT_Y, in the browser)."""
    args = {"src": source, "xr": fig.x_range, "yr": fig.y_range}
    fig.x_range.js_on_change("start", CustomJS(args=args, code=FIT_Y))
    x = np.asarray(source.data["x"], dtype=np.float64)
    first = max(int(np.searchsorted(x, view[0])) - 1, 0)
    shown = slice(first, int(np.searchsorted(x, view[1], side="right")))
    low = np.asarray(source.data["low"], dtype=np.float64)[shown]
    high = np.asarray(source.data["high"], dtype=np.float64)[shown]
    if len(low):
        a, b = float(np.nanmin(low)), float(np.nanmax(high))
        pad = max((b - a) * 0.05, 0.25)
        fig.y_range.start, fig.y_range.end = a - pad, b + pad


def _window(source: ColumnDataSource, view: tuple[float, float]) -> ColumnDataSource:
    """The rows of `source` the page opens with: the view and its width either side (WINDOW
    cuts the next ones in the browser)."""
    x = np.asarray(source.data["x"], dtype=np.float64)
    span = view[1] - view[0]
    first = int(np.searchsorted(x, view[0] - span))
    last = int(np.searchsorted(x, view[1] + span, side="right"))
    return ColumnDataSource({key: value[first:last] for key, value in source.data.items()})


def _figure(title: str, height: int, x_range: Range1d, y_range: Any = None) -> Any:
    """A panel on the shared time axis (UTC); its y axis `y_range`, else fitted to its data."""
    fig = figure(
        title=title,
        height=height,
        x_axis_type="datetime",
        x_range=x_range,
        y_range=y_range if y_range is not None else DataRange1d(),
        tools=TOOLS,
        active_scroll="xwheel_zoom",
        sizing_mode="stretch_width",
        min_border_left=70,
        output_backend="canvas",
    )
    return fig


def _candle_source(
    frame: Frame, frames: list[Frame], decided: dict[str, Any], names: Names
) -> ColumnDataSource:
    """Candles and, per candle, every timeframe's EMA, slope and regime then, and the
    decision at its close. Numbers only (texts as indexes into `Names`): a year of 5m
    candles travels as compact binary arrays, not as lists of strings."""
    data: dict[str, Any] = {
        "x": (frame.open_time + frame.close_time) / 2,
        "t1": frame.close_time,
        "open": frame.o.astype(np.float32),
        "high": frame.h.astype(np.float32),
        "low": frame.lo.astype(np.float32),
        "close": frame.c.astype(np.float32),
        "up": (frame.c >= frame.o).astype(np.uint8),
    }
    for other in frames:
        index = _asof(other, frame.close_time)
        ok = index >= 0
        safe = np.where(ok, index, 0)
        data[f"ema_{other.label}"] = np.where(ok, other.ema[safe], math.nan).astype(np.float32)
        data[f"slope_{other.label}"] = np.where(ok, other.slope[safe], math.nan).astype(np.float32)
        codes = np.array([names.code(r) for r in other.regime], dtype=np.uint8)
        data[f"regime_{other.label}"] = np.where(ok, codes[safe], names.code(""))
    action, reason = [], []
    for t in frame.close_time:
        d = decided.get(_iso(t))
        action.append(names.code(d["action"] if d else ""))
        reason.append(names.code(d["reason_code"] if d else ""))
    data["action"] = np.array(action, dtype=np.uint8)
    data["reason"] = np.array(reason, dtype=np.uint8)
    return ColumnDataSource(data)


class Names:
    """Texts of a page (regimes, actions, reasons) as small integer codes."""

    def __init__(self) -> None:
        self.texts: list[str] = [""]
        self._codes: dict[str, int] = {"": 0}

    def code(self, text: str) -> int:
        code = self._codes.get(text)
        if code is None:
            if len(self.texts) > 255:
                raise ValueError("more than 255 distinct regimes, actions and reasons")
            code = self._codes[text] = len(self.texts)
            self.texts.append(text)
        return code

    def hover(self) -> CustomJSHover:
        return CustomJSHover(args={"names": self.texts}, code="return names[value]")


def _iso(ms: float) -> str:
    return datetime.fromtimestamp(ms / MS, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _candles(
    fig: Any,
    frame: Frame,
    frames: list[Frame],
    source: ColumnDataSource,
    names: Names,
    visible: bool,
) -> list[Any]:
    width = frame.minutes * 60 * MS * 0.7
    color = transform("up", LinearColorMapper(palette=[DOWN, UP], low=0, high=1))
    wick = fig.segment("x", "high", "x", "low", source=source, color=color, visible=visible)
    body = fig.vbar(
        "x",
        width,
        "open",
        "close",
        source=source,
        fill_color=color,
        line_color=color,
        visible=visible,
        name=f"candles_{frame.label}",
    )
    rows = [
        ("bar", f"{frame.label} closing @t1{{%F %H:%M}} UTC"),
        ("O H L C", "@open{0.00} @high{0.00} @low{0.00} @close{0.00}"),
    ]
    texts = {"@action": names.hover(), "@reason": names.hover()}
    for other in frames:
        label = other.label
        rows.append(
            (
                label,
                f"EMA @{{ema_{label}}}{{0.00}} slope @{{slope_{label}}}{{0.000000}} "
                f"@{{regime_{label}}}{{custom}}",
            )
        )
        texts[f"@{{regime_{label}}}"] = names.hover()
    rows.append(("decision", "@action{custom} @reason{custom}"))
    fig.add_tools(
        HoverTool(
            renderers=[body],
            tooltips=rows,
            formatters={"@t1": "datetime", **texts},
            mode="vline",  # anywhere above or below a candle shows it
        )
    )
    return [wick, body]


def _flat_windows(fig: Any, params: dict[str, Any], start: float, end: float) -> None:
    """The get-flat window of every day in the run, shaded."""
    tz = ZoneInfo(str(params.get("market_tz", "America/Chicago")))
    first = clock.fromisoformat(str(params.get("flat_window_start", "15:07")))
    last = clock.fromisoformat(str(params.get("flat_window_end", "17:00")))
    day = datetime.fromtimestamp(start / MS, tz).date() - timedelta(days=1)
    stop = datetime.fromtimestamp(end / MS, tz).date()
    x0, x1 = [], []
    while day <= stop:
        a = datetime.combine(day, first, tz)
        b = datetime.combine(day + timedelta(days=1) if last <= first else day, last, tz)
        if b.timestamp() * MS > start and a.timestamp() * MS < end:
            x0.append(a.timestamp() * MS)
            x1.append(b.timestamp() * MS)
        day += timedelta(days=1)
    fig.vstrip(
        x0, x1, fill_color="#9467bd", fill_alpha=0.08, line_alpha=0, legend_label="get-flat window"
    )


def _markers(fig: Any, base: Frame, decisions: list[dict[str, Any]]) -> int:
    """One marker per BUY and per SELL line, at the base timeframe's close then."""
    count = 0
    for action, marker, color in (("BUY", "triangle", UP), ("SELL", "inverted_triangle", DOWN)):
        chosen = [d for d in decisions if d["action"] == action]
        at = _ms([d["at"] for d in chosen])
        index = _asof(base, at)
        y = np.where(index >= 0, base.c[np.maximum(index, 0)], math.nan)
        source = ColumnDataSource(
            {
                "x": at,
                "y": y,
                "reason": [d["reason_code"] for d in chosen],
                "regimes": [_pairs(d.get("regimes", {})) for d in chosen],
                "slopes": [_pairs(d.get("slopes", {}), "{:.6f}") for d in chosen],
            }
        )
        renderer = fig.scatter(
            "x",
            "y",
            source=source,
            marker=marker,
            size=13,
            fill_color=color,
            line_color="black",
            legend_label=action,
            name=f"{action.lower()}_markers",
        )
        fig.add_tools(
            HoverTool(
                renderers=[renderer],
                tooltips=[
                    ("decision", f"{action} @x{{%F %H:%M}} UTC"),
                    ("reason", "@reason"),
                    ("regimes", "@regimes"),
                    ("slopes", "@slopes"),
                ],
                formatters={"@x": "datetime"},
            )
        )
        count += len(chosen)
    return count


def _pairs(values: dict[str, Any], fmt: str = "{}") -> str:
    return " · ".join(f"{k} {DASH if v is None else fmt.format(v)}" for k, v in values.items())


def _round_trips(fig: Any, trades: list[dict[str, Any]]) -> None:
    if not trades:
        return
    source = ColumnDataSource(
        {
            "x0": _ms([t["entry_time"] for t in trades]),
            "x1": _ms([t["exit_time"] for t in trades]),
            "y0": [t["entry_price"] for t in trades],
            "y1": [t["exit_price"] for t in trades],
            "side": [t["side"] for t in trades],
            "exit_reason": [t["exit_reason"] for t in trades],
            "ticks": [t["ticks"] for t in trades],
            "net": [t["net"] for t in trades],
            "color": [UP if t["net"] > 0 else DOWN for t in trades],
        }
    )
    renderer = fig.segment(
        "x0",
        "y0",
        "x1",
        "y1",
        source=source,
        color="color",
        line_width=3,
        line_dash="dashed",
        legend_label="round trips",
        name="round_trips",
    )
    fig.add_tools(
        HoverTool(
            renderers=[renderer],
            tooltips=[
                ("trade", "@side @x0{%F %H:%M} → @x1{%H:%M} UTC"),
                ("prices", "@y0{0.00} → @y1{0.00}"),
                ("exit", "@exit_reason @ticks ticks, net @net{0.00} USD"),
            ],
            formatters={"@x0": "datetime", "@x1": "datetime"},
        )
    )


def _runs(
    left: np.ndarray[Any, Any], right: np.ndarray[Any, Any], values: list[str]
) -> list[tuple[float, float, str, int]]:
    """Consecutive equal values as one span: (left, right, value, count)."""
    spans: list[tuple[float, float, str, int]] = []
    for a, b, v in zip(left.tolist(), right.tolist(), values, strict=True):
        if spans and spans[-1][2] == v:
            x0, _, _, n = spans[-1]
            spans[-1] = (x0, b, v, n + 1)
        else:
            spans.append((a, b, v, 1))
    return spans


def _regime_strip(frames: list[Frame], decisions: list[dict[str, Any]], x_range: Range1d) -> Any:
    rows = ["reason", *[f.label for f in reversed(frames)]]
    data: dict[str, list[Any]] = {
        "y": [],
        "left": [],
        "right": [],
        "label": [],
        "count": [],
        "color": [],
    }
    for frame in frames:
        for a, b, value, n in _runs(frame.open_time, frame.close_time, frame.regime):
            _span(data, frame.label, a, b, value, n, REGIME_COLORS.get(value, "#7f7f7f"))
    if decisions:
        at = _ms([d["at"] for d in decisions])
        step = frames[0].minutes * 60 * MS
        reasons = [d["reason_code"] for d in decisions]
        colors = dict(REASON_COLORS)
        for reason in dict.fromkeys(reasons):
            colors.setdefault(reason, OTHER_COLORS[len(colors) % len(OTHER_COLORS)])
        for a, b, value, n in _runs(at - step, at, reasons):
            _span(data, "reason", a, b, value, n, colors[value])
    fig = _figure(
        "Regime per timeframe and the decision's reason code",
        230,
        x_range,
        FactorRange(factors=rows),
    )
    source = ColumnDataSource(data)
    renderer = fig.hbar(
        y="y",
        left="left",
        right="right",
        height=0.85,
        source=source,
        fill_color="color",
        line_alpha=0,
        legend_field="label",
        name="regime_strip",
    )
    legend = fig.legend[0]
    fig.legend.remove(legend)
    legend.orientation = "horizontal"
    legend.ncols = 6
    fig.add_layout(legend, "below")
    fig.add_tools(
        HoverTool(
            renderers=[renderer],
            tooltips=[
                ("", "@y: @label"),
                ("from", "@left{%F %H:%M} to @right{%F %H:%M} UTC"),
                ("bars", "@count"),
            ],
            formatters={"@left": "datetime", "@right": "datetime"},
        )
    )
    return fig


def _span(
    data: dict[str, list[Any]], row: str, a: float, b: float, label: str, n: int, color: str
) -> None:
    data["y"].append(row)
    data["left"].append(a)
    data["right"].append(b)
    data["label"].append(label)
    data["count"].append(n)
    data["color"].append(color)


def _equity(
    trades: list[dict[str, Any]],
    params: dict[str, Any],
    x_range: Range1d,
    view: tuple[float, float],
    run: tuple[float, float],
) -> tuple[Any, Any]:
    start, end = run
    equity = _figure(
        "Cumulative net P&L after fees (USD) and drawdown", 220, x_range, Range1d(start=-1, end=1)
    )
    daily = _figure(
        "Net P&L per trading day (17:00 CT to 17:00 CT, USD)",
        170,
        x_range,
        Range1d(start=-1, end=1),
    )
    for fig in (equity, daily):
        fig.yaxis.formatter = NumeralTickFormatter(format="0,0")
    exits = _ms([t["exit_time"] for t in trades])
    nets = np.array([float(t["net"]) for t in trades], dtype=np.float64)
    x = np.concatenate(([start], exits, [end]))
    curve = np.concatenate(([0.0], np.cumsum(nets), [float(np.sum(nets))]))
    peak = np.maximum.accumulate(curve)
    source = ColumnDataSource(
        {
            "x": x,
            "equity": curve,
            "peak": peak,
            "drawdown": curve - peak,
            "low": curve,
            "high": peak,
        }
    )
    equity.varea_step(  # the drawdown: the fall from the running peak, shaded under it
        "x",
        "equity",
        "peak",
        source=source,
        step_mode="after",
        fill_color=DOWN,
        fill_alpha=0.3,
        legend_label="drawdown",
    )
    line = equity.step(
        "x",
        "equity",
        source=source,
        mode="after",
        color="#1f77b4",
        line_width=2,
        legend_label="net after fees",
        name="equity",
    )
    equity.add_tools(
        HoverTool(
            renderers=[line],
            tooltips=[
                ("at", "@x{%F %H:%M} UTC"),
                ("net", "@equity{0,0.00}"),
                ("drawdown", "@drawdown{0,0.00}"),
            ],
            formatters={"@x": "datetime"},
            mode="vline",
        )
    )
    equity.legend.location = "top_left"
    days = daily_net(trades, str(params.get("market_tz", "America/Chicago")))
    day_source = ColumnDataSource(
        {
            "x": [(d + 43_200) * MS for d, _ in days],
            "day": [d * MS for d, _ in days],
            "net": [n for _, n in days],
            "color": [UP if n > 0 else DOWN for _, n in days],
            "low": [min(n, 0.0) for _, n in days],
            "high": [max(n, 0.0) for _, n in days],
        }
    )
    bars = daily.vbar(
        "x",
        20 * 3_600 * MS,
        "net",
        source=day_source,
        fill_color="color",
        line_alpha=0,
        name="daily_net",
    )
    daily.add_tools(
        HoverTool(
            renderers=[bars],
            tooltips=[("day from", "@day{%F} 17:00 CT"), ("net", "@net{0,0.00}")],
            formatters={"@day": "datetime"},
        )
    )
    _follow(equity, source, view)
    _follow(daily, day_source, view)
    return equity, daily


# -- HTML ----------------------------------------------------------------------------------

STYLE = """<style>
body { font-family: system-ui, sans-serif; margin: 0 16px 32px; color: #222; }
h1 { font-size: 1.4em; margin: 12px 0 4px; } h2 { font-size: 1.1em; margin: 22px 0 6px; }
p.meta { margin: 2px 0; color: #555; } p.note { margin: 4px 0; color: #a0522d; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; white-space: nowrap; }
th { background: #f4f4f4; } td.l, th.l { text-align: left; }
tr.win td.net { color: #1b7f4c; } tr.loss td.net { color: #c62828; }
div.scroll { max-height: 420px; overflow: auto; display: inline-block; }
#parameters td { text-align: left; white-space: normal; max-width: 520px; }
div.tables { display: flex; flex-wrap: wrap; gap: 28px; align-items: flex-start; }
</style>"""


def _notes(
    run: RunFiles, chosen: str | None, others: list[str], bars: list[dict[str, Any]]
) -> list[str]:
    notes = []
    if not run.bars and not run.decisions:
        notes.append("This run is empty: bars.jsonl and decisions.jsonl have no line yet.")
    elif not bars:
        notes.append(f"No bars for {chosen}: nothing to chart.")
    if run.summary is None:
        notes.append(
            "No summary.json: the run has not finished (a replay writes it last, a live "
            "run when it stops)."
        )
    if run.trades is None:
        notes.append(
            "No trades.jsonl: no paper broker in this run (replay --broker paper), or a "
            "live run still going."
        )
    elif not run.trades:
        notes.append("No trades: the run closed no round trip.")
    for name in run.cut_lines:
        notes.append(f"{name}: the last line was cut short (the run was writing it), left out.")
    if others:
        notes.append(f"Also in this directory: {', '.join(others)} (choose with --symbol).")
    open_positions = ((run.summary or {}).get("paper") or {}).get("open_positions") or []
    if open_positions:
        notes.append(f"{len(open_positions)} position(s) open at the end: not in the trades.")
    return notes


def _header(run: RunFiles, title: str, notes: list[str], bars: list[dict[str, Any]]) -> str:
    params = run.run or {}
    lines = [f"<h1>{html.escape(title)}</h1>"]
    if bars:
        span = f"{bars[0]['open_time']} → {bars[-1]['close_time']} (UTC)"
        lines.append(f"<p class='meta'>{html.escape(span)}</p>")
    if params.get("source"):
        source = f"source: {params['source']}; broker: {params.get('broker')}"
        lines.append(f"<p class='meta'>{html.escape(source)}</p>")
    lines.append(f"<p class='meta'>directory: {html.escape(str(run.directory))}</p>")
    lines += [f"<p class='note'>{html.escape(n)}</p>" for n in notes]
    return "\n".join(lines)


def _table(
    table_id: str,
    head: list[str],
    rows: list[list[str]],
    foot: list[str] | None = None,
    row_class: list[str] | None = None,
) -> str:
    def cells(tag: str, values: list[str]) -> str:
        return "".join(
            f"<{tag}{' class=l' if i == 0 else ''}>{v}</{tag}>" for i, v in enumerate(values)
        )

    body = "".join(
        f"<tr{f' class={row_class[i]}' if row_class else ''}>{cells('td', r)}</tr>"
        for i, r in enumerate(rows)
    )
    out = f"<table id='{table_id}'><thead><tr>{cells('th', head)}</tr></thead><tbody>{body}</tbody>"
    if foot is not None:
        out += f"<tfoot><tr>{cells('th', foot)}</tr></tfoot>"
    return out + "</table>"


def _money(x: float | None) -> str:
    return DASH if x is None else f"{x:,.2f}"


def _tables(
    run: RunFiles,
    params: dict[str, Any],
    decisions: list[dict[str, Any]],
    trades: list[dict[str, Any]],
    span_s: float,
) -> str:
    s = trade_stats(trades, span_s)
    pf = s["profit_factor"]
    summary_rows = [
        ["trades", str(s["trades"])],
        ["wins / losses", f"{s['wins']} / {s['losses']}"],
        ["win rate", DASH if s["win_rate"] is None else f"{s['win_rate']:.1%}"],
        ["net (after fees)", f"<span id='net-total'>{_money(s['net'])}</span>"],
        ["gross", _money(s["gross"])],
        ["fees", _money(s["fees"])],
        ["profit factor", DASH if pf is None else ("∞" if math.isinf(pf) else f"{pf:.2f}")],
        ["expectancy per trade", _money(s["expectancy"])],
        ["max drawdown", _money(s["max_drawdown"])],
        ["longest losing streak", str(s["longest_losing_streak"])],
        ["time in market", DASH if s["time_in_market"] is None else f"{s['time_in_market']:.1%}"],
    ]
    actions, reasons = decision_counts(decisions)
    decision_rows = [[html.escape(a), str(n)] for a, n in sorted(actions.items())]
    reason_rows = [[html.escape(r), str(n)] for r, n in sorted(reasons.items())]
    trade_rows, classes = [], []
    for i, t in enumerate(trades, 1):
        trade_rows.append(
            [
                str(i),
                html.escape(t["entry_time"]),
                html.escape(t["exit_time"]),
                html.escape(t["side"]),
                str(t["size"]),
                f"{t['entry_price']:.2f}",
                f"{t['exit_price']:.2f}",
                html.escape(t["exit_reason"]),
                str(t["ticks"]),
                _money(t["gross"]),
                _money(t["fees"]),
                f"<span class=net>{_money(t['net'])}</span>",
                _duration(t["duration_s"]),
            ]
        )
        classes.append("win" if t["net"] > 0 else "loss")
    trades_table = _table(
        "trades",
        [
            "#",
            "entry (UTC)",
            "exit (UTC)",
            "side",
            "size",
            "entry",
            "exit",
            "exit reason",
            "ticks",
            "gross",
            "fees",
            "net",
            "duration",
        ],
        trade_rows,
        [
            "total",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            _money(s["gross"]),
            _money(s["fees"]),
            _money(s["net"]),
            "",
        ],
        classes,
    )
    param_rows = [[html.escape(k), html.escape(_param(v))] for k, v in params.items()]
    out = ["<div class='tables'>"]
    out.append(
        "<div><h2>Summary</h2>" + _table("summary", ["figure", "value"], summary_rows) + "</div>"
    )
    out.append(
        "<div><h2>Decisions</h2>"
        + _table("decisions", ["action", "count"], decision_rows)
        + "<br>"
        + _table("reasons", ["action.reason", "count"], reason_rows)
        + "</div>"
    )
    out.append(
        "<div><h2>Parameters</h2>"
        + (
            _table("parameters", ["parameter", "value"], param_rows)
            if param_rows
            else "<p class='note'>No run.json: parameters unknown.</p>"
        )
        + "</div>"
    )
    out.append("</div>")
    out.append(f"<h2>Trades ({len(trades)})</h2><div class='scroll'>{trades_table}</div>")
    return "\n".join(out)


def _param(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_param(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def _duration(seconds: float) -> str:
    minutes = int(seconds) // 60
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}" if hours else f"{minutes}m"
