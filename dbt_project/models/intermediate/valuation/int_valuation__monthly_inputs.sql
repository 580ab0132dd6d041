{#-
    Monthly valuation inputs on a contiguous month spine (first SHILLER_PRICE month to the last
    month any valuation ratio input covers: SHILLER_PRICE, SHILLER_CAPE, FORWARD_PE), each as
    it was known on the row's available_date.

    available_date = month start + the SHILLER_PRICE catalog release lag (31 days: the monthly
    average price is complete a day after the month ends); the dashboard shows the row from then.
    Price, CAPE and FORWARD_PE: the latest observation dated in or before the month, carried at
    most its catalog staleness_days (raw_meta.series_catalog); older, NULL and flagged.

    Earnings are NOT known when the month's price is. Shiller's monthly earnings (and dividends)
    are S&P's four-quarter totals interpolated linearly between quarter ends, so a month's value
    depends on the report for the quarter that contains it. A month's earnings are therefore
    published at the end of its calendar quarter + the SHILLER_EARNINGS catalog release lag,
    which counts from the quarter end (60 days: by then every S&P 500 company has filed the
    quarter, 10-Qs within 40 days and 10-Ks within 60 under the SEC deadlines for large
    accelerated filers). Each row uses the latest earnings month published by its
    available_date (several months share one publication date: the latest of them wins), so on
    2026-03-04 the February 2026 row divides February's price by December 2025's earnings
    (published 2026-03-01), not by February's, which the Q1 report only fixes in May.
    trailing_pe = sp500_price / sp500_earnings_ttm; cape = SHILLER_CAPE (the workbook's own: its
    10-year earnings average includes the interpolated months too, at most 5 of 120);
    forward_pe = FORWARD_PE (optional user drop, raw_drops; NULL when not supplied).
-#}
with

catalog as (

    select series_id, staleness_days, release_lag_days, is_release_lag_business
    from {{ ref('stg_meta__series_catalog') }}

),

observations as (

    select
        series_id,
        cast(date_trunc('month', observation_date) as date) as month,
        observation_date,
        value
    from {{ ref('stg_shiller__monthly') }}
    where series_id in ('SHILLER_PRICE', 'SHILLER_CAPE')

    union all

    select
        series_id,
        cast(date_trunc('month', observation_date) as date) as month,
        observation_date,
        value
    from {{ ref('stg_drops__observations') }}
    where series_id = 'FORWARD_PE'

),

earnings as (

    select
        shiller.value,
        cast(date_trunc('month', shiller.observation_date) as date) as month,
        cast(
            date_trunc('quarter', shiller.observation_date) + interval 3 month - interval 1 day
            as date
        ) + catalog.release_lag_days as published_date
    from {{ ref('stg_shiller__monthly') }} as shiller
    inner join catalog
        on shiller.series_id = catalog.series_id
    where shiller.series_id = 'SHILLER_EARNINGS'
        and shiller.value is not null

),

latest_per_publication as (

    select *
    from earnings
    qualify row_number() over (partition by published_date order by month desc) = 1

),

bounds as (

    select
        min(case when series_id = 'SHILLER_PRICE' then month end) as first_month,
        max(case when series_id in ('SHILLER_PRICE', 'SHILLER_CAPE', 'FORWARD_PE') then month end)
            as last_month
    from observations

),

price_published as (

    -- when each month's price row was public: its catalog release lag on its publisher
    -- calendar (int_shiller__observations_published; Shiller rows are dated month start)
    select observation_date as month, published_date
    from {{ ref('int_shiller__observations_published') }}
    where series_id = 'SHILLER_PRICE'

),

spine as (

    select
        cast(r.month as date) as month,
        price_published.published_date as available_date
    from bounds,
        range(bounds.first_month, bounds.last_month + interval 1 month, interval 1 month)
            as r (month)
    left join price_published
        on cast(r.month as date) = price_published.month

),

grid as (

    select spine.month, s.series_id
    from spine
    cross join (values ('SHILLER_PRICE'), ('SHILLER_CAPE'), ('FORWARD_PE')) as s (series_id)

),

sampled as (

    select
        grid.month,
        grid.series_id,
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
        max(case when series_id = 'SHILLER_CAPE' then value end) as cape,
        max(case when series_id = 'SHILLER_CAPE' then age_days > staleness_days end)
            as is_cape_stale,
        max(case when series_id = 'FORWARD_PE' then value end) as forward_pe,
        max(case when series_id = 'FORWARD_PE' then age_days > staleness_days end)
            as is_forward_pe_stale
    from sampled
    group by month

),

known_earnings as (

    select
        spine.month,
        spine.available_date,
        latest_per_publication.month as earnings_month,
        latest_per_publication.published_date as earnings_published_date,
        datediff('day', latest_per_publication.month, spine.month) > catalog.staleness_days
            as is_earnings_stale,
        case
            when datediff('day', latest_per_publication.month, spine.month)
                <= catalog.staleness_days
                then latest_per_publication.value
        end as sp500_earnings_ttm
    from spine
    asof left join latest_per_publication
        on spine.available_date >= latest_per_publication.published_date
    left join catalog
        on catalog.series_id = 'SHILLER_EARNINGS'

)

select
    wide.month,
    known_earnings.available_date,
    wide.sp500_price,
    known_earnings.sp500_earnings_ttm,
    known_earnings.earnings_month,
    known_earnings.earnings_published_date,
    coalesce(known_earnings.is_earnings_stale, false) as is_earnings_stale,
    case
        when known_earnings.sp500_earnings_ttm > 0
            then wide.sp500_price / known_earnings.sp500_earnings_ttm
    end as trailing_pe,
    wide.cape,
    coalesce(wide.is_cape_stale, false) as is_cape_stale,
    wide.forward_pe,
    coalesce(wide.is_forward_pe_stale, false) as is_forward_pe_stale
from wide
inner join known_earnings
    on wide.month = known_earnings.month
