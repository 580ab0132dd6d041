{#-
    Daily close and return per asset on the shared equity trading calendar (NYSE trading days,
    int_markets__trading_calendar). Logic and rules: int_markets__composite_daily (as-of
    sampling, staleness, primary/proxy switch) and int_markets__asset_map (assets, series,
    return kind).

    A return exists only between two real observations of the asset: on a day its close is
    carried (no observation dated that day: gold on a UK holiday, the 10-year on Columbus Day, a
    series that paused or ended) return_1d is NULL, never 0; the next real observation's return
    is measured from the last real close (it spans the days the asset did not trade).
-#}
with

daily as (

    select * from {{ ref('int_markets__composite_daily') }}
    where composite_kind = 'asset'

),

assets as (

    select * from {{ ref('int_markets__asset_map') }}

)

select
    cast(daily.date as date) as date,
    cast(daily.composite_key as varchar) as asset,
    cast(assets.asset_name as varchar) as asset_name,
    cast(assets.asset_class as varchar) as asset_class,
    cast(daily.series_id as varchar) as series_id,
    cast(daily.is_proxy as boolean) as is_proxy,
    cast(daily.close as double) as close,
    cast(daily.stored_units as varchar) as close_unit,
    cast(case when not daily.is_carried then daily.return_1d end as double) as return_1d,
    cast(case daily.return_kind when 'change' then 'percentage_points' else 'ratio' end as varchar)
        as return_unit,
    cast(daily.source_date as date) as source_date,
    cast(daily.age_days as integer) as age_days,
    cast(daily.staleness_days as integer) as staleness_limit_days,
    cast(daily.is_stale as boolean) as is_stale,
    cast(daily.is_carried as boolean) as is_carried
from daily
inner join assets
    on daily.composite_key = assets.asset
