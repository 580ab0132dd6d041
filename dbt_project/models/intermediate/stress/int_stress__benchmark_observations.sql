{#-
    The official stress indices in var('stress_benchmark_series') (STLFSI4, NFCI from FRED; the
    OFR FSI), one row per index per observation date, each with the date it became public: the
    catalog's release lag, in business days of the index's publisher calendar
    (int_publisher_calendars), by the same joins as int_series_observations_published uses for
    every crosswind input. Benchmarks only: nothing here feeds the stress score. The OFR file stays
    out of int_series_observations_unioned on purpose: under `dbt build` a failing test on its
    raw table would then skip every mart, where here it skips only the scorecard.
-#}
{%- set benchmarks = var('stress_benchmark_series') %}

with

observations as (

    select series_id, observation_date, value
    from {{ ref('stg_fred__observations') }}
    where
        series_id in (
            {%- for s in benchmarks %}
            '{{ s }}'{{ "," if not loop.last }}
            {%- endfor %}
        )

    union all

    select series_id, observation_date, value
    from {{ ref('stg_ofr__financial_stress_index') }}
    where
        series_id in (
            {%- for s in benchmarks %}
            '{{ s }}'{{ "," if not loop.last }}
            {%- endfor %}
        )

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
        observations.series_id as benchmark_index,

        -- strings
        catalog.frequency,

        -- numerics
        observations.value,

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
    left join publisher_days as observed_day
        on catalog.release_calendar = observed_day.calendar
        and observations.observation_date = observed_day.date
    left join publisher_days as published_day
        on observed_day.calendar = published_day.calendar
        and published_day.is_business_day
        and published_day.business_days_through
        = observed_day.business_days_through + catalog.release_lag_days

)

select * from published
