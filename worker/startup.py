"""Start-up phases under one retry policy.

Each phase (broker login, order intents, contracts, accounts, user hub, warm-up, ...) is
retried on a transient failure (worker/failures.py) forever, with the project's one
backoff (adapters/backoff.py: RECONNECT_INITIAL_SECONDS doubling up to
RECONNECT_CAP_SECONDS, jittered), one `startup_retry` line per attempt; meanwhile
/healthz answers 503 with the phase and the last error. A permanent failure logs
`startup_failed` and raises `StartupRefused` (exit 2, one line); anything else goes up
as it is (exit 1, `worker_crashed`). A phase must be safe to run again after a failure:
the warm-up resumes after the last row it read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, NamedTuple

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from adapters import events
from adapters.backoff import backoff_delay
from adapters.logs import mask_text
from engine.records import tf_label
from worker.failures import Permanent, Transient, classify, describe

if TYPE_CHECKING:
    from worker.app import App

Classify = Callable[[BaseException], Permanent | Transient | None]


class Phase(NamedTuple):
    """One start-up step: its name in logs and /healthz, and the step itself."""

    name: str
    run: Callable[[], Awaitable[object]]


class StartupRefused(Exception):
    """A permanent failure at start: the operator must fix `permanent.setting`."""

    def __init__(self, phase: str, permanent: Permanent) -> None:
        super().__init__(permanent.line)
        self.phase, self.permanent = phase, permanent


@dataclass
class StartupStatus:
    """Where the start is, for /healthz: unhealthy until `phase` is None (streaming)."""

    phase: str | None = "starting"
    retrying: str | None = None  # the last transient failure of this phase, masked

    @property
    def reason(self) -> str | None:
        if self.phase is None:
            return None
        return f"starting: {self.phase}" + (f": {self.retrying}" if self.retrying else "")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    initial_s: float  # RECONNECT_INITIAL_SECONDS
    cap_s: float  # RECONNECT_CAP_SECONDS
    classify: Classify
    mask: Callable[[str], str]  # secrets out of text that leaves the process


async def run_phase(
    name: str, action: Callable[[], Awaitable[object]], status: StartupStatus, policy: RetryPolicy
) -> None:
    """Run `action` until it succeeds; retry transient failures, forever."""
    status.phase, status.retrying = name, None

    def transient(exc: BaseException) -> bool:
        return isinstance(policy.classify(exc), Transient)

    def wait(state: RetryCallState) -> float:
        return backoff_delay(state.attempt_number, policy.initial_s, policy.cap_s)

    def before_sleep(state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome is not None else None
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        error = policy.mask(describe(failure)) if failure is not None else "unknown"
        status.retrying = f"{error}; retry {state.attempt_number} in {delay:.1f} s"
        events.startup_retry(phase=name, attempt=state.attempt_number, error=error, delay_s=delay)

    retrying = AsyncRetrying(
        retry=retry_if_exception(transient), wait=wait, before_sleep=before_sleep, reraise=True
    )
    try:
        await retrying(action)
    except Exception as exc:
        verdict = policy.classify(exc)
        if not isinstance(verdict, Permanent):
            raise
        masked = Permanent(verdict.setting, policy.mask(verdict.message))
        events.startup_failed(phase=name, setting=masked.setting, error=masked.message)
        raise StartupRefused(name, masked) from None
    status.retrying = None


async def start_up(app: App, starting: StartupStatus) -> None:
    """Every start-up phase of `app` in order, then the warm-up; each under the retry
    policy of RECONNECT_INITIAL_SECONDS / RECONNECT_CAP_SECONDS."""
    settings = app.settings
    names = {account_id: name for name, account_id in settings.account_ids.items()}
    policy = RetryPolicy(
        settings.reconnect_initial_seconds,
        settings.reconnect_cap_seconds,
        classify=partial(classify, account_names=names),
        mask=partial(mask_text, secrets=settings.secrets()),
    )
    for phase in app.startup:
        await run_phase(phase.name, phase.run, starting, policy)
    warm = WarmUp(app)
    await run_phase("warm_up", warm.read, starting, policy)
    warm.done()
    # A subscribing source (Supabase) has started once it is live (worker/run.py); the
    # sample feed has nothing to subscribe to.
    starting.phase = "subscribe" if isinstance(getattr(app.source, "live", None), bool) else None


class WarmUp:
    """History goes through the engine so state equals a worker that never stopped;
    its decisions are not acted on (they are in the past). Read again after a failure,
    the source resumes after the last row it gave: no row goes through twice."""

    def __init__(self, app: App) -> None:
        self.app, self.rows = app, 0

    async def read(self) -> None:
        async for event in self.app.source.warm_up():
            self.app.pipeline.handle(event)
            self.rows += 1

    def done(self) -> None:
        pipeline = self.app.pipeline
        regimes = {
            symbol: {tf_label(b.timeframe): b.regime for b in engine.frames if b is not None}
            for symbol, engine in pipeline.engines.items()
        }
        events.warmup_done(rows=self.rows, regimes=regimes, last_row=pipeline.last_row_arrival)
