{#-
    Market daily bars (raw_market.daily_bars), one row per symbol per bar date, converted to the
    stored unit with the factor of the units label the ROW arrived with (raw_meta.unit_labels,
    matched like macros/stg_series_observations.sql; the series' catalog label when the row's is
    unknown, flagged). Rows without a close are dropped: a bar with no close is no observation.
-#}
with

source as (

    select * from {{ source('raw_market', 'daily_bars') }}
    where close is not null

),

unit_labels as (

    select
        {{ normalized_units_label('units') }} as units_key,
        stored_units,
        factor
    from {{ source('raw_meta', 'unit_labels') }}

),

catalog as (

    select
        series_id,
        {{ normalized_units_label('units') }} as catalog_units_key
    from {{ source('raw_meta', 'series_catalog') }}

),

factors as (

    select
        source.*,
        coalesce(row_units.factor, catalog_units.factor) as conversion_factor,
        coalesce(row_units.stored_units, catalog_units.stored_units) as stored_units,
        row_units.factor is not null as is_units_label_known
    from source
    left join unit_labels as row_units
        on {{ normalized_units_label('source.units') }} = row_units.units_key
    left join catalog
        on source.series_id = catalog.series_id
    left join unit_labels as catalog_units
        on catalog.catalog_units_key = catalog_units.units_key

)

select
    -- ids
    series_id,

    -- numerics (stored unit)
    cast(open as double) * conversion_factor as open,
    cast(high as double) * conversion_factor as high,
    cast(low as double) * conversion_factor as low,
    cast(close as double) * conversion_factor as close,
    cast(volume as double) as volume,
    stored_units,
    cast(close as double) as source_close,
    units as source_units,
    conversion_factor,

    -- booleans
    is_units_label_known,

    -- dates
    cast(date as date) as observation_date,

    -- metadata
    source_mode,
    _loaded_at
from factors
