{#-
    The official stress indices in var('stress_benchmark_series') (STLFSI4, NFCI from FRED; the
    OFR FSI), one row per index per observation date, each with the date it became public: the
    catalog's release lag, in business days of the index's publisher calendar, exactly as for
    every crosswind input (int_fred__ / int_ofr__observations_published, macro
    observations_published). Benchmarks only: nothing here feeds the stress score, and the OFR
    file feeds nothing else, so a failing test on its raw table skips only the scorecard.
-#}
{%- set benchmarks = var('stress_benchmark_series') %}

with

published as (

    select series_id, frequency, value, observation_date, published_date
    from {{ ref('int_fred__observations_published') }}
    where
        series_id in (
            {%- for s in benchmarks %}
            '{{ s }}'{{ "," if not loop.last }}
            {%- endfor %}
        )

    union all

    select series_id, frequency, value, observation_date, published_date
    from {{ ref('int_ofr__observations_published') }}
    where
        series_id in (
            {%- for s in benchmarks %}
            '{{ s }}'{{ "," if not loop.last }}
            {%- endfor %}
        )

),

renamed as (

    select
        -- ids
        series_id as benchmark_index,

        -- strings
        frequency,

        -- numerics
        value,

        -- dates
        observation_date,
        published_date

    from published

)

select * from renamed
