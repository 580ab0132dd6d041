{{ config(materialized='table') }}
{#-
    One row per composite (a cross-asset mart asset, or a COMEX product's underlying) per shared
    equity trading day, from the composite's first observation to the calendar's end.

    As-of sampling: each series' value on trading day D is its latest observation dated on or
    before D (crypto: the UTC bar dated D, closed at 00:00 UTC of D+1 = the evening of D in New
    York). The value is carried at most the catalog's staleness_days (calendar days, from
    raw_meta.series_catalog); older, it is NULL and `is_stale` is true: never carried on
    indefinitely. Market prices are keyed by the date they were struck (their observation date),
    not by FRED's re-publication date; `source_date` and `age_days` say which observation was used.

    return_1d on D = between consecutive shared trading days, within ONE series (prev trading
    day's as-of value of the same series): simple = close / prev_close - 1 (NULL unless both
    closes are > 0, e.g. WTI on 2020-04-20), change = close - prev_close. It is a chain link: 0
    on a carried day (is_carried), and the next real observation's link spans the carried days,
    so compounding links (int_markets__margin_forward_returns) gives the exact price ratio across
    holidays. It is not a market return on a carried day: fct_asset_returns_daily publishes it
    only where the asset has a real observation (DESIGN.md: a carried close never makes a
    return).

    Primary / proxy: the primary series is used on dates d with primary_first < d <= primary_last
    (its first day has no return of its own), the proxy elsewhere once it has started, otherwise
    the primary again (so a stale, NULL row is still produced and flagged).
-#}
with

asset_map as (

    select
        'asset' as composite_kind,
        asset as composite_key,
        primary_series_id,
        proxy_series_id,
        return_kind
    from {{ ref('int_markets__asset_map') }}

),

margin_products as (

    select
        'margin_product' as composite_kind,
        product as composite_key,
        underlying_series_id as primary_series_id,
        proxy_series_id,
        'simple' as return_kind
    from {{ ref('stg_meta__margin_products') }}

),

composites as (

    select * from asset_map
    union all
    select * from margin_products

),

needed_series as (

    select primary_series_id as series_id from composites
    union
    select proxy_series_id from composites
    where proxy_series_id is not null

),

catalog as (

    select series_id, staleness_days
    from {{ ref('stg_meta__series_catalog') }}

),

market_obs as (

    select bars.series_id, bars.observation_date, bars.close as value, bars.stored_units
    from {{ ref('stg_markets__daily_bars') }} as bars
    where bars.series_id in (select needed_series.series_id from needed_series)

),

fred_obs as (

    select fred.series_id, fred.observation_date, fred.value, fred.stored_units
    from {{ ref('stg_fred__observations') }} as fred
    where fred.series_id in (select needed_series.series_id from needed_series)
        and fred.series_id not in (select distinct market_obs.series_id from market_obs)

),

observations as (

    select * from market_obs
    union all
    select * from fred_obs

),

coverage as (

    select
        series_id,
        min(observation_date) as first_date,
        max(observation_date) as last_date
    from observations
    group by series_id

),

calendar as (

    select date from {{ ref('int_markets__trading_calendar') }}

),

series_grid as (

    select
        coverage.series_id,
        calendar.date
    from coverage
    inner join calendar
        on coverage.first_date <= calendar.date

),

sampled as (

    select
        series_grid.series_id,
        series_grid.date,
        observations.observation_date as source_date,
        observations.value as asof_value,
        observations.stored_units,
        catalog.staleness_days,
        datediff('day', observations.observation_date, series_grid.date) as age_days
    from series_grid
    asof left join observations
        on series_grid.series_id = observations.series_id
        and series_grid.date >= observations.observation_date
    left join catalog
        on series_grid.series_id = catalog.series_id

),

series_daily as (

    select
        series_id,
        date,
        source_date,
        stored_units,
        staleness_days,
        age_days,
        coalesce(age_days > staleness_days, true) as is_stale,
        case when age_days <= staleness_days then asof_value end as close
    from sampled

),

series_returns as (

    select
        *,
        lag(close) over (partition by series_id order by date) as previous_close
    from series_daily

),

picked as (

    select
        composites.composite_kind,
        composites.composite_key,
        composites.return_kind,
        case
            when calendar.date > primary_cov.first_date
                and calendar.date <= primary_cov.last_date then composites.primary_series_id
            when proxy_cov.series_id is not null
                and calendar.date >= proxy_cov.first_date then composites.proxy_series_id
            else composites.primary_series_id
        end as series_id,
        calendar.date
    from composites
    cross join calendar
    left join coverage as primary_cov
        on composites.primary_series_id = primary_cov.series_id
    left join coverage as proxy_cov
        on composites.proxy_series_id = proxy_cov.series_id
    where
        calendar.date >= least(
            coalesce(primary_cov.first_date, proxy_cov.first_date),
            coalesce(proxy_cov.first_date, primary_cov.first_date)
        )

)

select
    picked.composite_kind,
    picked.composite_key,
    picked.date,
    picked.series_id,
    picked.series_id <> composites.primary_series_id as is_proxy,
    series_returns.close,
    series_returns.previous_close,
    series_returns.stored_units,
    picked.return_kind,
    case
        when picked.return_kind = 'change'
            then series_returns.close - series_returns.previous_close
        when series_returns.close > 0 and series_returns.previous_close > 0
            then series_returns.close / series_returns.previous_close - 1
    end as return_1d,
    series_returns.source_date,
    series_returns.age_days,
    series_returns.staleness_days,
    series_returns.is_stale,
    series_returns.source_date < picked.date as is_carried
from picked
inner join composites
    on picked.composite_kind = composites.composite_kind
    and picked.composite_key = composites.composite_key
inner join series_returns
    on picked.series_id = series_returns.series_id
    and picked.date = series_returns.date
