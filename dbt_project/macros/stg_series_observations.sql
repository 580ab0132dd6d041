{#-
    stg_series_observations(source_relation, extra_columns=[], published_column=none)

    The shared body of every observation staging model (raw tables shaped
    series_id, date, value, units, ...): renames, casts, drops missing values and converts each
    value to the series' stored unit (USD bn, percent, index, ...) with the factor of the units
    label the ROW arrived with (raw_meta.unit_labels), so a units change upstream converts
    correctly row by row. Raw rows already carry the catalog's own spelling of that label (the
    FRED API source resolves what FRED wrote, e.g. `Billions of US Dollars`, with
    orchestration.lib.catalog.normalize_units_label before writing), so the match here only
    forgives case and spacing. A row whose label is unknown or NULL falls back to
    the series' catalog label (same rule as Catalog.stored_value) and is flagged
    `is_units_label_known = false` (a warn-level test reports it). No factor is hard-coded.
-#}
{% macro normalized_units_label(expression) -%}
    lower(regexp_replace(trim({{ expression }}), '\s+', ' ', 'g'))
{%- endmacro %}

{#-
    unit_conversion_ctes(source_cte): the CTEs unit_labels, catalog and `factors`; `factors` is
    every row of `source_cte` (which has series_id and units) plus conversion_factor,
    stored_units and is_units_label_known, by the rule above: the factor and stored unit of the
    row's own units label, else of the series' catalog label (is_units_label_known = false).
    Shared by stg_series_observations and stg_markets__daily_bars.
-#}
{% macro unit_conversion_ctes(source_cte) %}
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
        {{ source_cte }}.*,
        coalesce(row_units.factor, catalog_units.factor) as conversion_factor,
        coalesce(row_units.stored_units, catalog_units.stored_units) as stored_units,
        row_units.factor is not null as is_units_label_known
    from {{ source_cte }}
    left join unit_labels as row_units
        on {{ normalized_units_label(source_cte ~ '.units') }} = row_units.units_key
    left join catalog
        on {{ source_cte }}.series_id = catalog.series_id
    left join unit_labels as catalog_units
        on catalog.catalog_units_key = catalog_units.units_key

)
{% endmacro %}

{% macro stg_series_observations(source_relation, extra_columns=[], published_column=none) %}

with

source as (

    -- the current rows, or each row as known then in an as-of build (macros/as_of.sql)
    select * from {{ raw_as_of(source_relation, published_column=published_column) }}
    where value is not null

),

{{ unit_conversion_ctes('source') }},

converted as (

    select
        -- ids
        factors.series_id,

        -- numerics
        -- rounded to 1e-9 so that e.g. 6605909 * 0.001 reads 6605.909, not 6605.909000000001
        round(cast(factors.value as double) * factors.conversion_factor, 9) as value,
        factors.stored_units,
        cast(factors.value as double) as source_value,
        factors.units as source_units,
        factors.conversion_factor,

        -- booleans
        factors.is_units_label_known,

        -- dates
        cast(factors.date as date) as observation_date,
        {%- for col in extra_columns %}
        factors.{{ col }},
        {%- endfor %}

        -- metadata
        factors.source_mode,
        factors._loaded_at

    from factors

)

select * from converted

{% endmacro %}
