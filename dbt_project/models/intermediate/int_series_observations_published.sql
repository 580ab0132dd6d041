-- Each observation with the date it became public (observation date + the catalog's release
-- lag, calendar or business days) and the series' staleness limit. Series missing from the
-- catalog are dropped (a warn-level test on staging reports them).
with

observations as (

    select * from {{ ref('int_series_observations_unioned') }}

),

catalog as (

    select * from {{ ref('stg_meta__series_catalog') }}

),

published as (

    select
        -- ids
        observations.series_id,

        -- strings
        observations.source_system,
        observations.stored_units,
        catalog.frequency,

        -- numerics
        observations.value,
        catalog.release_lag_days,
        catalog.staleness_days,

        -- booleans
        catalog.is_release_lag_business,

        -- dates
        observations.observation_date,
        {{ published_date('observations.observation_date', 'catalog.release_lag_days',
                          'catalog.is_release_lag_business') }} as published_date

    from observations
    inner join catalog
        on observations.series_id = catalog.series_id

)

select * from published
