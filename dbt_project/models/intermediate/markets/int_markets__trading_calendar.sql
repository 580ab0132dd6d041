{#-
    The shared equity trading calendar: every date on which the S&P 500 (series SPX) has a
    close. All cross-asset marts are sampled on these dates; it ends on SPX's last close, so no
    row is created past the last date an input covers.
-#}
with

spx as (

    select distinct observation_date as date
    from {{ ref('stg_markets__daily_bars') }}
    where series_id = '{{ var("equity_calendar_series", "SPX") }}'

)

select
    date,
    lag(date) over (order by date) as previous_date,
    row_number() over (order by date) as trading_day_number
from spx
