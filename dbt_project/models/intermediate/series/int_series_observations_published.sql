{#-
    Each observation with the date it became public and the series' staleness limit. Series
    missing from the catalog are dropped (a warn-level test on staging reports them).

    published_date, from the catalog's release lag:
      calendar lag ("1d")   observation_date + release_lag_days;
      business lag ("1bd")  the release_lag_days-th business day of the series' publisher
                            calendar (catalog release_calendar; int_publisher_calendars: Mon-Fri
                            minus that calendar's holidays) strictly after the observation date;
                            a weekend or holiday date counts from the business day before it.
    e.g. us_federal: TGA for Thu 2025-07-03 + 1bd = Mon 2025-07-07 (Fri 07-04 is Independence
    Day); WALCL's Wednesday + 1bd = Thursday, or Friday when Thursday is Thanksgiving.
    NULL when the date lies outside the calendar's span (a not_null test names the rows).
-#}
with

observations as (

    select * from {{ ref('int_series_observations_unioned') }}

),

catalog as (

    select * from {{ ref('stg_meta__series_catalog') }}

),

publisher_days as (

    select calendar, date, is_business_day, business_days_through
    from {{ ref('int_publisher_calendars') }}

),

published as (

    select
        -- ids
        observations.series_id,

        -- strings
        observations.source_system,
        observations.stored_units,
        catalog.frequency,
        catalog.release_calendar,

        -- numerics
        observations.value,
        catalog.release_lag_days,
        catalog.staleness_days,

        -- booleans
        catalog.is_release_lag_business,

        -- dates
        observations.observation_date,
        case
            when catalog.is_release_lag_business and catalog.release_lag_days > 0
                then published_day.date
            else observations.observation_date + catalog.release_lag_days
        end as published_date

    from observations
    inner join catalog
        on observations.series_id = catalog.series_id
    -- the business days counted up to the observation date, on the publisher's calendar ...
    left join publisher_days as observed_day
        on catalog.release_calendar = observed_day.calendar
        and observations.observation_date = observed_day.date
    -- ... and the business day release_lag_days further on
    left join publisher_days as published_day
        on observed_day.calendar = published_day.calendar
        and published_day.is_business_day
        and published_day.business_days_through
        = observed_day.business_days_through + catalog.release_lag_days

)

select * from published
