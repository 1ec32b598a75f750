"""SymbolSilence: a symbol quiet for 10 minutes in session while another still sends."""

from __future__ import annotations

from engine.silence import SilenceChange, SymbolSilence

T0 = 1_750_082_400.0


def feed_both_until(watch: SymbolSilence, end: float, quiet: str | None = None) -> None:
    """Rows of MES and MNQ every minute from T0 to `end` (not of `quiet`), with checks."""
    t = T0
    while t <= end:
        for symbol in ("MES", "MNQ"):
            if symbol != quiet:
                watch.row(symbol, t)
        assert watch.check(t, True) == []
        t += 60.0


def test_a_symbol_silent_for_ten_minutes_while_another_sends_is_reported_once() -> None:
    watch = SymbolSilence(("MES", "MNQ"))
    watch.check(T0, True)
    feed_both_until(watch, T0 + 300)
    t = T0 + 300
    for _ in range(9):  # MNQ goes quiet after T0 + 300; MES sends on
        t += 60
        watch.row("MES", t)
        assert watch.check(t, True) == []
    t += 60  # T0 + 900: MNQ's last row was 600 s ago
    watch.row("MES", t)
    assert watch.check(t, True) == [SilenceChange("MNQ", True, 600.0)]
    for _ in range(5):  # reported once per silence
        t += 60
        watch.row("MES", t)
        assert watch.check(t, True) == []
    assert watch.row("MNQ", t + 10) == SilenceChange("MNQ", False, 910.0)
    assert watch.row("MNQ", t + 70) is None  # one recovery line


def test_no_report_when_every_symbol_is_quiet() -> None:
    watch = SymbolSilence(("MES", "MNQ"))
    feed_both_until(watch, T0 + 120)
    assert watch.check(T0 + 5000, True) == []  # the whole feed is quiet: not one symbol


def test_a_single_symbol_is_never_reported() -> None:
    watch = SymbolSilence(("MES",))
    watch.check(T0, True)
    assert watch.check(T0 + 5000, True) == []


def test_no_report_outside_the_session_and_the_count_restarts_when_it_opens() -> None:
    watch = SymbolSilence(("MES", "MNQ"))
    feed_both_until(watch, T0 + 60)
    assert watch.check(T0 + 3000, False) == []  # the daily halt: silence is normal
    opened = T0 + 4000
    watch.row("MES", opened)
    assert watch.check(opened, True) == []  # MNQ's first row of the session may lag
    watch.row("MES", opened + 599)
    assert watch.check(opened + 599, True) == []
    watch.row("MES", opened + 600)
    assert watch.check(opened + 600, True) == [SilenceChange("MNQ", True, 600.0)]


def test_a_symbol_that_never_sent_is_reported_after_ten_minutes_of_watching() -> None:
    watch = SymbolSilence(("MES", "MNQ"))
    watch.check(T0, True)
    for i in range(11):
        watch.row("MES", T0 + 60 * i)
    assert watch.check(T0 + 600, True) == [SilenceChange("MNQ", True, 600.0)]


def test_rows_of_other_symbols_are_ignored() -> None:
    watch = SymbolSilence(("MES",))
    assert watch.row("ES", T0) is None
