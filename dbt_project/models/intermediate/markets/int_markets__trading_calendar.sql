{{ config(materialized='table') }}
{#-
    The shared equity trading calendar: every business day of the S&P 500's publisher calendar
    (series SPX, catalog release_calendar nyse: weekdays minus NYSE closures, special closures
    such as 2018-12-05 and 2025-01-09 included; int_publisher_calendars) from SPX's first close to
    its last. All cross-asset marts are sampled on these dates; it ends on SPX's last close, so
    no row is created past the last date an input covers. A trading day without an SPX close
    (a gap in the file) keeps its row: SPX is carried there and has no return.
    A table, not a view: as a view its window functions were re-planned inside the composite's
    as-of joins (27 s instead of 0.2 s for int_markets__composite_daily).
-#}
{%- set equity_series = var("equity_calendar_series", "SPX") -%}

with

spx_coverage as (

    select
        min(observation_date) as first_date,
        max(observation_date) as last_date
    from {{ ref('stg_markets__daily_bars') }}
    where series_id = '{{ equity_series }}'

),

equity_calendar as (

    select release_calendar
    from {{ ref('stg_meta__series_catalog') }}
    where series_id = '{{ equity_series }}'

),

trading_days as (

    select publisher_days.date
    from {{ ref('int_publisher_calendars') }} as publisher_days
    inner join equity_calendar
        on publisher_days.calendar = equity_calendar.release_calendar
    inner join spx_coverage
        on publisher_days.date between spx_coverage.first_date and spx_coverage.last_date
    where publisher_days.is_business_day

)

select
    date,
    lag(date) over (order by date) as previous_date,
    row_number() over (order by date) as trading_day_number
from trading_days
