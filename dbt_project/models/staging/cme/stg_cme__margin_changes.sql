{#-
    COMEX margin changes (raw_cme.margin_changes): one row per product per effective date.
    The unit is a column (usd_per_contract until CME moved metals to a percentage of notional in
    January 2026, pct_notional after where the history records it) and is never assumed.
    `previous_unit` / `previous_maintenance_margin` come from the product's previous row; the
    file's own previous value is kept when it has one (it may predate the history's first row).
-#}
with

changes as (

    -- the current rows, or each row as known then in an as-of build (macros/as_of.sql)
    select *
    from {{ raw_as_of(source('raw_cme', 'margin_changes'), ['product', 'effective_date']) }}

),

ordered as (

    select
        upper(trim(product)) as product,
        cast(effective_date as date) as effective_date,
        initial_margin,
        maintenance_margin,
        lower(trim(unit)) as margin_unit,
        previous_maintenance_margin as file_previous_maintenance_margin,
        lag(maintenance_margin) over w as lag_maintenance_margin,
        lag(lower(trim(unit))) over w as previous_unit,
        lag(cast(effective_date as date)) over w as previous_effective_date,
        row_number() over w as change_number,
        source_file,
        source_mode,
        _loaded_at
    from changes
    window w as (partition by upper(trim(product)) order by effective_date)

)

select
    product,
    effective_date,
    change_number,
    initial_margin,
    maintenance_margin,
    margin_unit,
    coalesce(file_previous_maintenance_margin, lag_maintenance_margin)
        as previous_maintenance_margin,
    coalesce(
        previous_unit,
        case when file_previous_maintenance_margin is not null then margin_unit end
    ) as previous_unit,
    previous_effective_date,
    source_file,
    source_mode,
    _loaded_at
from ordered
