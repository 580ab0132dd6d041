{{ config(materialized='table') }}
{#-
    Point-in-time daily values: one row per calendar day per series in var('pit_daily_series'),
    from the series' first publication to the end of the calendar spine.

    value on D = the latest observation whose published_date (int_series_observations_published:
    observation date + catalog release lag, calendar or business days) is <= D; age_days =
    D - observation_date; when age_days > the catalog's staleness_days the value is NULL and
    is_stale is true. Nothing is filled backwards (ASOF join looks back only). Several
    observations published on the same day (e.g. Friday and Saturday with a business-day lag):
    the latest observation wins.
-#}
with

published as (

    select series_id, value, observation_date, staleness_days, published_date
    from {{ ref('int_series_observations_published') }}
    where
        series_id in (
            {%- for s in var('pit_daily_series') %}
            '{{ s }}'{{ "," if not loop.last }}
            {%- endfor %}
        )

),

calendar as (

    select date from {{ ref('int_calendar_days') }}

),

latest_per_publication as (

    select *
    from published
    qualify
        row_number() over (
            partition by series_id, published_date order by observation_date desc
        ) = 1

),

series_bounds as (

    select
        series_id,
        min(published_date) as first_published_date,
        any_value(staleness_days) as staleness_days
    from latest_per_publication
    group by series_id

),

series_days as (

    select
        series_bounds.series_id,
        series_bounds.staleness_days,
        calendar.date
    from series_bounds
    inner join calendar
        on series_bounds.first_published_date <= calendar.date

),

as_of as (

    select
        series_days.date,
        series_days.series_id,
        series_days.staleness_days,
        latest_per_publication.value,
        latest_per_publication.observation_date,
        latest_per_publication.published_date
    from series_days
    asof left join latest_per_publication
        on series_days.series_id = latest_per_publication.series_id
        and series_days.date >= latest_per_publication.published_date

),

final as (

    select
        -- keys
        date,
        series_id,

        -- numerics
        case when date - observation_date <= staleness_days then value end as value,
        date - observation_date as age_days,
        staleness_days,

        -- booleans
        date - observation_date > staleness_days as is_stale,

        -- dates
        observation_date,
        published_date

    from as_of

)

select * from final
