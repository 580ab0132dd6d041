{#-
    The official stress indices in var('stress_benchmark_series') (STLFSI4, NFCI from FRED; the
    OFR FSI), one row per index per observation date, each with the date it became public: the
    catalog's release lag applied by macros/point_in_time.sql published_date(), as for every
    crosswind input. Benchmarks only: nothing here feeds the stress score. The OFR file stays
    out of int_series_observations_unioned on purpose: under `dbt build` a failing test on its
    raw table would then skip every mart, where here it skips only the scorecard.
-#}
{%- set benchmarks = var('stress_benchmark_series') %}

with

observations as (

    select series_id, observation_date, value
    from {{ ref('stg_fred__observations') }}
    where series_id in ({% for s in benchmarks %}'{{ s }}'{{ ", " if not loop.last }}{% endfor %})

    union all

    select series_id, observation_date, value
    from {{ ref('stg_ofr__financial_stress_index') }}
    where series_id in ({% for s in benchmarks %}'{{ s }}'{{ ", " if not loop.last }}{% endfor %})

),

catalog as (

    select * from {{ ref('stg_meta__series_catalog') }}

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
        {{ published_date('observations.observation_date', 'catalog.release_lag_days',
                          'catalog.is_release_lag_business') }} as published_date

    from observations
    inner join catalog
        on observations.series_id = catalog.series_id

)

select * from published
