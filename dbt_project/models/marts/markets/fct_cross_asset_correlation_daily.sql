{#-
    Rolling pairwise Pearson correlations of daily returns, per pair of assets (asset_a < asset_b,
    alphabetical) and window, on the shared equity trading calendar.

    - Pairs: self-join of fct_asset_returns_daily on date (both assets have a row that day).
    - Windows: var correlation_windows (default [20, 60]) trading-day rows ending on the date:
      corr(a, b) OVER (PARTITION BY pair ORDER BY date ROWS BETWEEN n-1 PRECEDING AND CURRENT ROW).
      Days where either return is NULL (stale input, first day) are skipped by corr().
    - Min count: NULL (row dropped) unless at least ceil(correlation_min_obs_share * n) days of the
      window (default 0.75: 15 of 20, 45 of 60) have both returns; a constant series (zero
      variance, NaN) also gives no row. Values are clipped to [-1, 1] and rounded to 10 decimals
      (float noise such as -1.0000000000000002).
    - us10y's return is the yield change (percentage points): corr(x, us10y) > 0 means x rises
      when yields rise, i.e. when Treasury prices fall.
    - Range: rows from var correlation_start_date (default 2000-01-01, when eight of the ten
      assets trade; BTC joins in 2014, ETH in 2017). Returns from 2x the longest window of
      trading days before that date are read so the first rows have full windows.
    - Pairs with history: var correlation_history_pairs (default null: every pair). When it is
      a list, the other pairs keep only the latest var correlation_recent_days trading days
      (default 60): the latest matrix is complete for every pair while the stored history stays
      linear in the listed pairs (bench/scale.py's 100x catalog: 4,950 pairs).
    - Incremental (macros/correlation_incremental.sql): a build recomputes, per pair, only the
      rows from the earliest date whose return changed (new day, revision, removed row), with
      the window's history before it; the numbers equal a full rebuild.
-#}
{%- set s = correlation_settings() -%}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ correlation_delete_stale() }}",
    post_hook="{{ correlation_record_inputs() }}"
) }}

with

plan as (

    {{ correlation_plan(incremental=is_incremental()) }}

),

returns as (

    select date, asset, return_1d
    from {{ ref('fct_asset_returns_daily') }}

),

pairs as (

    select
        a.date,
        plan.asset_a,
        plan.asset_b,
        plan.compute_from,
        a.return_1d as return_a,
        b.return_1d as return_b
    from plan
    inner join returns as a
        on plan.asset_a = a.asset
        and plan.read_from <= a.date
    inner join returns as b
        on plan.asset_b = b.asset
        and a.date = b.date
    where plan.compute_from is not null

),

windowed as (

    select
        date,
        asset_a,
        asset_b,
        compute_from,
        -- one pair of columns per window (sqlfluff cannot map the loop's indentation)
        -- noqa: disable=LT02
        {% for n in s.windows -%}
        corr(return_a, return_b) over (
            partition by asset_a, asset_b
            order by date
            rows between {{ n - 1 }} preceding and current row
        ) as corr_{{ n }},
        count(return_a + return_b) over (
            partition by asset_a, asset_b
            order by date
            rows between {{ n - 1 }} preceding and current row
        ) as n_obs_{{ n }}{{ "," if not loop.last }}
        {% endfor -%}
    -- noqa: enable=LT02
    from pairs

),

long as (

    {%- for n in s.windows %}
    select
        date,
        asset_a,
        asset_b,
        {{ n }} as window_days,
        corr_{{ n }} as correlation,
        n_obs_{{ n }} as n_observations
    from windowed
    where n_obs_{{ n }} >= {{ (n * s.min_share) | round(0, 'ceil') | int }}
        and not isnan(corr_{{ n }})
        and date >= compute_from
    {{ "union all" if not loop.last }}
    {%- endfor %}

)

select
    cast(date as date) as date,
    cast(asset_a as varchar) as asset_a,
    cast(asset_b as varchar) as asset_b,
    cast(window_days as integer) as window_days,
    cast(round(greatest(-1.0, least(1.0, correlation)), 10) as double) as correlation,
    cast(n_observations as integer) as n_observations
from long
where correlation is not null
