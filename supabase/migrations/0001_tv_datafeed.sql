-- 0001_tv_datafeed: the table a TradingView alert writes (through n8n), once per
-- closed bar, and that the worker reads over Realtime (live) and PostgREST
-- (backfill). Shape as described in /work/shared/reference/tv-datafeed.md.
--
-- Idempotent: every statement can run again on a database that already has it,
-- so the same file serves a fresh test database and an existing project.

create table if not exists public.tv_datafeed (
    -- Insert order. Also the tiebreaker for rows sharing one `ts` when paging.
    id bigint generated always as identity primary key,

    -- Receipt time, set by the database: the start of the inserting transaction,
    -- a few seconds after the bar closed. Not the bar's time, and rows can commit
    -- out of `ts` order (a transaction that began earlier may commit later).
    ts timestamptz not null default now(),

    -- TradingView root symbol (e.g. MES), not a broker contract id.
    symbol text not null,

    -- TradingView {{interval}}: the text '1' for 1-minute rows.
    timeframe text not null,

    -- The bar itself. numeric keeps exactly what the alert sent; the volume can be
    -- fractional or missing.
    o numeric not null,
    h numeric not null,
    l numeric not null,
    c numeric not null,
    v numeric null,

    -- Indicators computed by TradingView on the same chart. Any may be null.
    sma20 numeric null,
    sma50 numeric null,
    ema8 numeric null,
    ema21 numeric null,
    vwap numeric null,
    atr numeric null,
    bb_upper numeric null,
    bb_middle numeric null,
    bb_lower numeric null,
    rsi numeric null,
    macd numeric null,
    macd_signal numeric null,
    macd_hist numeric null,
    stoch_k numeric null,
    stoch_d numeric null,
    obv numeric null,
    fisher numeric null,
    phobos_momentum numeric null,
    vzo numeric null,

    -- Optional TradingView {{time}}: the bar's open as epoch milliseconds. When a
    -- deployment sends it, it wins over the bar time inferred from `ts`.
    bar_time bigint null
);

-- Deployments that created the table before `bar_time` existed get the column here;
-- `create table if not exists` above would leave their table unchanged.
alter table public.tv_datafeed add column if not exists bar_time bigint null;

-- Every worker query is "this symbol and timeframe, from this ts on, in (ts, id)
-- order" (keyset paging for backfill, newest-first for warm-up): one index serves
-- both directions.
create index if not exists tv_datafeed_symbol_timeframe_ts_id_idx
    on public.tv_datafeed (symbol, timeframe, ts, id);

-- Supabase Realtime streams only the tables in the `supabase_realtime`
-- publication. `alter publication ... add table` fails when the table is already
-- a member, and there is no `if not exists` form, hence the catalog check.
do $$
begin
    if not exists (
        select 1
        from pg_catalog.pg_publication_tables
        where pubname = 'supabase_realtime'
          and schemaname = 'public'
          and tablename = 'tv_datafeed'
    ) then
        alter publication supabase_realtime add table public.tv_datafeed;
    end if;
end
$$;
