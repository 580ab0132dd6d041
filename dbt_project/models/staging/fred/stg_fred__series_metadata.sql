-- FRED's own description of each series (title, units, frequency, last update), as the API
-- returned it; empty when the keyless CSV or a snapshot is used. Reading it here also makes its
-- source tests asset checks of raw_fred/series_metadata (dagster-dbt maps only the tests of
-- sources some model reads).
with

source as (

    select * from {{ source('raw_fred', 'series_metadata') }}

),

renamed as (

    select
        -- ids
        series_id,

        -- strings
        title,
        units as source_units,
        frequency as source_frequency,

        -- timestamps (FRED writes e.g. '2024-01-11 16:31:02-06'; stored in UTC)
        timezone('UTC', try_cast(last_updated as timestamptz)) as last_updated_at,

        -- metadata
        source_mode,
        _loaded_at

    from source

)

select * from renamed
