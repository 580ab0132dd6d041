-- The series catalog (orchestration/catalog.yaml), one row per series: release lags and
-- staleness limits used by the point-in-time alignment. Never hard-code these in SQL.
with

source as (

    select * from {{ source('raw_meta', 'series_catalog') }}

),

renamed as (

    select
        -- ids
        series_id,

        -- strings
        source as source_system,
        units,
        stored_units,
        frequency,
        release_calendar,
        description,

        -- numerics
        cast(factor as double) as factor,
        cast(release_lag_days as integer) as release_lag_days,
        cast(staleness_days as integer) as staleness_days,
        cast(range_min as double) as range_min,
        cast(range_max as double) as range_max,

        -- booleans
        cast(release_lag_business as boolean) as is_release_lag_business,
        cast(required as boolean) as is_required

    from source

)

select * from renamed
