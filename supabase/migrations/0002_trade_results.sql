-- 0002_trade_results: the tables the worker writes results to.
--
-- `trade_results` keeps the shape the previous bot wrote (dashboards read it, see
-- /work/shared/reference/tv-datafeed.md) and gains `result_key`, the unique key that
-- makes delivery idempotent: the worker POSTs with `on_conflict=result_key` and
-- `resolution=ignore-duplicates`, so a retry after an unclear answer (timeout, reset)
-- never makes a second row.
--
-- Idempotent: every statement can run again on a database that already has it, so
-- the same file serves a fresh test database and an existing project.

create table if not exists public.trade_results (
    -- A surrogate key for tools that want one; existing deployments keep their own.
    id bigint generated always as identity primary key,

    strategy text,          -- 'reduction_trigger'
    signal text,            -- BUY (long round trip) or SELL (short)
    symbol text,            -- root symbol, e.g. MES
    account text,           -- the worker's account name
    size numeric,           -- contracts entered (= contracts exited)
    ai_decision_id text,    -- the entry order's customTag (rt-<account>-<symbol>-<bar>)
    entry_time timestamptz, -- first entry fill
    exit_time timestamptz,  -- last exit fill (back to flat)
    duration_sec numeric,
    alert text,
    total_pnl numeric,      -- USD, net of every fee of the round trip
    raw_trades jsonb,       -- the round trip's fills as the broker reported them
    order_id text,          -- the entry order id
    comment text,
    trade_ids text          -- the broker trade ids, comma-separated
);

-- The idempotency key. Rows written before it existed keep null, and nulls never
-- collide in a unique index, so the old rows stay valid.
alter table public.trade_results add column if not exists result_key text;

-- A plain (not partial) unique index: `on conflict (result_key)` can infer it.
create unique index if not exists trade_results_result_key_key
    on public.trade_results (result_key);

-- Optional: one row per trigger decision (BUY, SELL or HOLD with its reason), for
-- dashboards that want to see why the trigger did or did not trade.
create table if not exists public.trigger_decisions (
    id bigint generated always as identity primary key,

    -- Unique per (account, symbol, decision bar), like the entry's customTag; the
    -- worker POSTs with `on_conflict=decision_key` and `resolution=ignore-duplicates`.
    decision_key text not null,
    symbol text not null,
    at timestamptz not null,  -- the decision instant (the closing bar's end), UTC
    action text not null,     -- BUY, SELL or HOLD
    reason_code text,         -- why (e.g. a gate or the rule that held)
    regimes jsonb,            -- regime per timeframe at the decision
    slopes jsonb,             -- EMA slope per timeframe at the decision
    account text,
    created_at timestamptz not null default now()
);

create unique index if not exists trigger_decisions_decision_key_key
    on public.trigger_decisions (decision_key);

create index if not exists trigger_decisions_symbol_at_idx
    on public.trigger_decisions (symbol, at);
