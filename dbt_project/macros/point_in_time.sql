{#-
    Point-in-time helpers (see models/intermediate/series/_int_series__models.yml for the rule).
-#}

{#-
    require_pit_series(series_ids, caller_name): a compile error naming every id that is not in
    var('pit_daily_series'): such a series has no rows in int_series_asof_daily, so its columns
    would be silently NULL.
-#}
{% macro require_pit_series(series_ids, caller_name) -%}
    {%- set configured = var('pit_daily_series') -%}
    {%- set missing = series_ids | reject('in', configured) | list -%}
    {%- if missing -%}
        {{ exceptions.raise_compiler_error(
            caller_name ~ ": series " ~ (missing | join(', '))
            ~ " not in var pit_daily_series (dbt_project.yml), so int_series_asof_daily has no"
            ~ " rows for it; add the id there (it must be in orchestration/catalog.yaml)"
        ) }}
    {%- endif -%}
{%- endmacro %}

{#-
    pit_columns(series_id, prefix): inside a `group by date` over int_series_asof_daily, pivot
    one series into <prefix>_value, <prefix>_obs_date, <prefix>_age_days, <prefix>_is_stale.
    The value is already NULL when stale; is_stale is NULL when the series has not been
    published yet on that date (or is not loaded at all). A series missing from
    var('pit_daily_series') is a compile error, never a column of NULLs.
-#}
{% macro pit_columns(series_id, prefix) -%}
    {{- require_pit_series([series_id], 'pit_columns') -}}
    max(value) filter (where series_id = '{{ series_id }}') as {{ prefix }}_value,
    max(observation_date) filter (where series_id = '{{ series_id }}') as {{ prefix }}_obs_date,
    max(age_days) filter (where series_id = '{{ series_id }}') as {{ prefix }}_age_days,
    bool_or(is_stale) filter (where series_id = '{{ series_id }}') as {{ prefix }}_is_stale
{%- endmacro %}

{#-
    series_date_range(series_ids): a `(min_date, max_date)` subquery over int_series_coverage:
    from the first publication of any of the series to the last publication of any of them
    (capped at today). Marts build their spine inside it: they start where their inputs start
    and never create rows past the last date any input covers.
-#}
{% macro series_date_range(series_ids) -%}
    (
        select
            min(first_published_date) as min_date,
            least(max(last_published_date), {{ warehouse_today() }}) as max_date
        from {{ ref('int_series_coverage') }}
        where series_id in ({% for s in series_ids %}'{{ s }}'{% if not loop.last %}, {% endif %}{% endfor %})
    )
{%- endmacro %}

{#-
    pit_daily_frame(series_prefixes, range_series=none): a subquery with one row per calendar
    day inside series_date_range(range_series, default: every series given) and, per series,
    the pit_columns named by its prefix: {'WALCL': 'walcl', ...} -> walcl_value, walcl_obs_date,
    walcl_age_days, walcl_is_stale. The daily marts start from this frame.
-#}
{% macro pit_daily_frame(series_prefixes, range_series=none) -%}
{%- set series_ids = series_prefixes.keys() | list -%}
{{- require_pit_series(series_ids, 'pit_daily_frame') -}}
    (
        with

        date_range as {{ series_date_range(range_series or series_ids) }},

        as_of as (

            select
                date,
                {%- for series_id, prefix in series_prefixes.items() %}
                {{ pit_columns(series_id, prefix) }}{{ "," if not loop.last }}
                {%- endfor %}
            from {{ ref('int_series_asof_daily') }}
            where series_id in (
                {%- for s in series_ids %}'{{ s }}'{% if not loop.last %}, {% endif %}{% endfor -%}
            )
            group by date

        )

        select
            calendar.date,
            as_of.* exclude (date)
        from {{ ref('int_calendar_days') }} as calendar
        inner join date_range
            on calendar.date between date_range.min_date and date_range.max_date
        left join as_of
            on calendar.date = as_of.date
    )
{%- endmacro %}
