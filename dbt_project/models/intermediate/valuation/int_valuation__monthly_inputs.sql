{#-
    Monthly valuation inputs on a contiguous month spine (first SHILLER_PRICE month to the last
    month any valuation ratio input covers: SHILLER_PRICE, SHILLER_CAPE, FORWARD_PE).

    Each input is the latest observation dated in or before the month, carried at most its
    catalog staleness_days (raw_meta.series_catalog; SHILLER_EARNINGS 200 days covers the months
    the workbook has prices but no earnings yet); older, it is NULL and flagged. Ratios are keyed
    by the month they describe (Shiller's own alignment: monthly average price over trailing
    12-month earnings).
    trailing_pe = SHILLER_PRICE / SHILLER_EARNINGS; cape = SHILLER_CAPE; forward_pe = FORWARD_PE
    (optional user drop, raw_drops; NULL when not supplied).
-#}
with

catalog as (

    select series_id, staleness_days
    from {{ ref('stg_meta__series_catalog') }}

),

observations as (

    select series_id, cast(date_trunc('month', observation_date) as date) as month, observation_date, value
    from {{ ref('stg_shiller__monthly') }}
    where series_id in ('SHILLER_PRICE', 'SHILLER_EARNINGS', 'SHILLER_CAPE')

    union all

    select series_id, cast(date_trunc('month', observation_date) as date), observation_date, value
    from {{ ref('stg_drops__observations') }}
    where series_id = 'FORWARD_PE'

),

bounds as (

    select
        min(case when series_id = 'SHILLER_PRICE' then month end) as first_month,
        max(case when series_id in ('SHILLER_PRICE', 'SHILLER_CAPE', 'FORWARD_PE') then month end)
            as last_month
    from observations

),

spine as (

    select cast(month as date) as month
    from bounds,
        range(bounds.first_month, bounds.last_month + interval 1 month, interval 1 month) as r(month)

),

grid as (

    select spine.month, s.series_id
    from spine
    cross join (values ('SHILLER_PRICE'), ('SHILLER_EARNINGS'), ('SHILLER_CAPE'), ('FORWARD_PE')) as s(series_id)

),

sampled as (

    select
        grid.month,
        grid.series_id,
        observations.month as source_month,
        datediff('day', observations.month, grid.month) as age_days,
        catalog.staleness_days,
        case
            when datediff('day', observations.month, grid.month) <= catalog.staleness_days
                then observations.value
        end as value
    from grid
    asof left join observations
        on grid.series_id = observations.series_id
        and grid.month >= observations.month
    left join catalog
        on grid.series_id = catalog.series_id

),

wide as (

    select
        month,
        max(case when series_id = 'SHILLER_PRICE' then value end) as sp500_price,
        max(case when series_id = 'SHILLER_EARNINGS' then value end) as sp500_earnings_ttm,
        max(case when series_id = 'SHILLER_EARNINGS' then source_month end) as earnings_month,
        max(case when series_id = 'SHILLER_EARNINGS' then age_days > staleness_days end)
            as is_earnings_stale,
        max(case when series_id = 'SHILLER_CAPE' then value end) as cape,
        max(case when series_id = 'SHILLER_CAPE' then age_days > staleness_days end)
            as is_cape_stale,
        max(case when series_id = 'FORWARD_PE' then value end) as forward_pe,
        max(case when series_id = 'FORWARD_PE' then age_days > staleness_days end)
            as is_forward_pe_stale
    from sampled
    group by month

)

select
    month,
    sp500_price,
    sp500_earnings_ttm,
    earnings_month,
    coalesce(is_earnings_stale, false) as is_earnings_stale,
    case when sp500_earnings_ttm > 0 then sp500_price / sp500_earnings_ttm end as trailing_pe,
    cape,
    coalesce(is_cape_stale, false) as is_cape_stale,
    forward_pe,
    coalesce(is_forward_pe_stale, false) as is_forward_pe_stale
from wide
