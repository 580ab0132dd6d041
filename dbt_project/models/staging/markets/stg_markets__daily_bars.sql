{#-
    Market daily bars (raw_market.daily_bars), one row per symbol per bar date, converted to the
    stored unit with the factor of the units label the ROW arrived with (raw_meta.unit_labels; the
    series' catalog label when the row's is unknown, flagged): macro unit_conversion_ctes, the
    same rule as macros/stg_series_observations.sql. Rows without a close are dropped: a bar with
    no close is no observation.
-#}
with

source as (

    -- the current rows, or each row as known then in an as-of build (macros/as_of.sql)
    select * from {{ raw_as_of(source('raw_market', 'daily_bars')) }}
    where close is not null

),

{{ unit_conversion_ctes('source') }}

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
