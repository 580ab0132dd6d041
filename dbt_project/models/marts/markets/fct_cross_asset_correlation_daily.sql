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
      assets trade; BTC joins in 2014, ETH in 2017). Returns from ~2x the longest window before
      that date are read so the first rows have full windows.
-#}
{%- set windows = var('correlation_windows', [20, 60]) -%}
{%- set min_share = var('correlation_min_obs_share', 0.75) -%}
{%- set start_date = var('correlation_start_date', '2000-01-01') -%}
{%- set warmup_days = (windows | max) * 2 + 10 -%}

with

returns as (

    select date, asset, return_1d
    from {{ ref('fct_asset_returns_daily') }}
    where date >= cast('{{ start_date }}' as date) - interval {{ warmup_days }} day

),

pairs as (

    select
        a.date,
        a.asset as asset_a,
        b.asset as asset_b,
        a.return_1d as return_a,
        b.return_1d as return_b
    from returns as a
    inner join returns as b
        on a.date = b.date
        and a.asset < b.asset

),

windowed as (

    select
        date,
        asset_a,
        asset_b,
        -- one pair of columns per window (sqlfluff cannot map the loop's indentation)
        -- noqa: disable=LT02
        {% for n in windows -%}
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

    {%- for n in windows %}
    select
        date,
        asset_a,
        asset_b,
        {{ n }} as window_days,
        corr_{{ n }} as correlation,
        n_obs_{{ n }} as n_observations
    from windowed
    where n_obs_{{ n }} >= {{ (n * min_share) | round(0, 'ceil') | int }}
        and not isnan(corr_{{ n }})
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
where date >= cast('{{ start_date }}' as date)
    and correlation is not null
