{#-
    stg_series_observations(source_relation, extra_columns=[])

    The shared body of every observation staging model (raw tables shaped
    series_id, date, value, units, ...): renames, casts, drops missing values and converts each
    value to the series' stored unit (USD bn, percent, index, ...) with the factor of the units
    label the ROW arrived with (raw_meta.unit_labels), so a units change upstream converts
    correctly row by row. Labels are matched like orchestration.lib.catalog.Catalog.unit:
    case-insensitive, whitespace collapsed. A row whose label is unknown or NULL falls back to
    the series' catalog label (same rule as Catalog.stored_value) and is flagged
    `is_units_label_known = false` (a warn-level test reports it). No factor is hard-coded.
-#}
{% macro normalized_units_label(expression) -%}
    lower(regexp_replace(trim({{ expression }}), '\s+', ' ', 'g'))
{%- endmacro %}

{% macro stg_series_observations(source_relation, extra_columns=[]) %}

with

source as (

    select * from {{ source_relation }}
    where value is not null

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

converted as (

    select
        -- ids
        source.series_id,

        -- numerics
        -- rounded to 1e-9 so that e.g. 6605909 * 0.001 reads 6605.909, not 6605.909000000001
        round(cast(source.value as double)
            * coalesce(row_units.factor, catalog_units.factor), 9) as value,
        coalesce(row_units.stored_units, catalog_units.stored_units) as stored_units,
        cast(source.value as double) as source_value,
        source.units as source_units,
        coalesce(row_units.factor, catalog_units.factor) as conversion_factor,

        -- booleans
        row_units.factor is not null as is_units_label_known,

        -- dates
        cast(source.date as date) as observation_date,
        {%- for col in extra_columns %}
        source.{{ col }},
        {%- endfor %}

        -- metadata
        source.source_mode,
        source._loaded_at

    from source
    left join unit_labels as row_units
        on {{ normalized_units_label('source.units') }} = row_units.units_key
    left join catalog
        on source.series_id = catalog.series_id
    left join unit_labels as catalog_units
        on catalog.catalog_units_key = catalog_units.units_key

)

select * from converted

{% endmacro %}
