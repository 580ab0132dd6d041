{#-
    Point-in-time helpers (see models/intermediate/_intermediate.yml for the rule).
-#}

{#-
    add_business_days(date_expr, n_expr): the n-th business day (Mon-Fri) strictly after the
    date, or the date itself when n <= 0. A Saturday or Sunday counts from the Friday before
    (the business days after a weekend day are those after that Friday). US holidays are not
    modelled. Works for any n >= 0 and for column expressions:
      monday = date - (isodow - 1); p = min(isodow, 5) - 1 + n;
      result = monday + 7 * (p // 5) + (p % 5)
    e.g. Fri + 1bd = Mon, Sat + 1bd = Mon, Thu + 1bd = Fri, Fri + 2bd = Tue.
-#}
{% macro add_business_days(date_expr, n_expr) -%}
    (case
        when ({{ n_expr }}) <= 0 then cast({{ date_expr }} as date)
        else cast({{ date_expr }} as date)
            - cast(isodow(cast({{ date_expr }} as date)) - 1 as integer)
            + cast(7 * ((least(isodow(cast({{ date_expr }} as date)), 5) - 1 + ({{ n_expr }})) // 5)
                as integer)
            + cast(((least(isodow(cast({{ date_expr }} as date)), 5) - 1 + ({{ n_expr }})) % 5)
                as integer)
    end)
{%- endmacro %}

{#-
    published_date(observation_date, lag_days, lag_is_business): the date by whose end the
    observation is public, from the catalog's release lag (calendar or business days).
-#}
{% macro published_date(observation_date, lag_days, lag_is_business) -%}
    (case
        when {{ lag_is_business }} then {{ add_business_days(observation_date, lag_days) }}
        else cast({{ observation_date }} as date) + cast({{ lag_days }} as integer)
    end)
{%- endmacro %}

{#-
    pit_columns(series_id, prefix): inside a `group by date` over int_series_asof_daily, pivot
    one series into <prefix>_value, <prefix>_obs_date, <prefix>_age_days, <prefix>_is_stale.
    The value is already NULL when stale; is_stale is NULL when the series has not been
    published yet on that date (or is not loaded at all).
-#}
{% macro pit_columns(series_id, prefix) -%}
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
