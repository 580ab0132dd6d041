{#-
    Point-in-time helpers: the one point-in-time rule (DESIGN.md), applied per source so that a
    mart's lineage shows only the sources it reads. The rule itself is documented at the top of
    models/intermediate/series/_int_series__models.yml.
-#}

{#-
    observations_published(observations, source_system, value_column='value'): each observation
    of one source's staging model with the date it became public and the series' staleness
    limit. Series missing from the catalog are dropped (a warn-level test on staging reports
    them). Rendered by one int_<source>__observations_published model per source.

    published_date, from the catalog's release lag:
      calendar lag ("1d")   observation_date + release_lag_days;
      business lag ("1bd")  the release_lag_days-th business day of the series' publisher
                            calendar (catalog release_calendar; int_publisher_calendars: Mon-Fri
                            minus that calendar's holidays) strictly after the observation date;
                            a weekend or holiday date counts from the business day before it.
    e.g. us_federal: TGA for Thu 2025-07-03 + 1bd = Mon 2025-07-07 (Fri 07-04 is Independence
    Day); WALCL's Wednesday + 1bd = Thursday, or Friday when Thursday is Thanksgiving.
    NULL when the date lies outside the calendar's span (a not_null test names the rows).
-#}
{% macro observations_published(observations, source_system, value_column='value') %}
with

observations as (

    select
        series_id,
        observation_date,
        {{ value_column }} as value,
        stored_units,
        '{{ source_system }}' as source_system
    from {{ observations }}

),

catalog as (

    select * from {{ ref('stg_meta__series_catalog') }}

),

publisher_days as (

    select calendar, date, is_business_day, business_days_through
    from {{ ref('int_publisher_calendars') }}

),

published as (

    select
        -- ids
        observations.series_id,

        -- strings
        observations.source_system,
        observations.stored_units,
        catalog.frequency,
        catalog.release_calendar,

        -- numerics
        observations.value,
        catalog.release_lag_days,
        catalog.staleness_days,

        -- booleans
        catalog.is_release_lag_business,

        -- dates
        observations.observation_date,
        case
            when catalog.is_release_lag_business and catalog.release_lag_days > 0
                then published_day.date
            else observations.observation_date + catalog.release_lag_days
        end as published_date

    from observations
    inner join catalog
        on observations.series_id = catalog.series_id
    -- the business days counted up to the observation date, on the publisher's calendar ...
    left join publisher_days as observed_day
        on catalog.release_calendar = observed_day.calendar
        and observations.observation_date = observed_day.date
    -- ... and the business day release_lag_days further on
    left join publisher_days as published_day
        on observed_day.calendar = published_day.calendar
        and published_day.is_business_day
        and published_day.business_days_through
        = observed_day.business_days_through + catalog.release_lag_days

)

select * from published
{% endmacro %}

{#-
    series_asof_daily(published, series_ids): point-in-time daily values, one row per calendar
    day per series in `series_ids`, from the series' first publication to the end of the
    calendar spine (int_calendar_days). `published` is an int_<source>__observations_published
    model. Rendered by one int_<source>__series_asof_daily model per source.

    value on D = the latest observation whose published_date is <= D; age_days =
    D - observation_date; when age_days > the catalog's staleness_days the value is NULL and
    is_stale is true. Nothing is filled backwards (ASOF join looks back only). Several
    observations published on the same day (e.g. Friday and Saturday with a business-day lag):
    the latest observation wins.
-#}
{% macro series_asof_daily(published, series_ids) %}
with

published as (

    select series_id, value, observation_date, staleness_days, published_date
    from {{ published }}
    where
        series_id in (
            {%- for s in series_ids %}
            '{{ s }}'{{ "," if not loop.last }}
            {%- endfor %}
        )

),

calendar as (

    select date from {{ ref('int_calendar_days') }}

),

latest_per_publication as (

    select *
    from published
    qualify
        row_number() over (
            partition by series_id, published_date order by observation_date desc
        ) = 1

),

series_bounds as (

    select
        series_id,
        min(published_date) as first_published_date,
        any_value(staleness_days) as staleness_days
    from latest_per_publication
    group by series_id

),

series_days as (

    select
        series_bounds.series_id,
        series_bounds.staleness_days,
        calendar.date
    from series_bounds
    inner join calendar
        on series_bounds.first_published_date <= calendar.date

),

as_of as (

    select
        series_days.date,
        series_days.series_id,
        series_days.staleness_days,
        latest_per_publication.value,
        latest_per_publication.observation_date,
        latest_per_publication.published_date
    from series_days
    asof left join latest_per_publication
        on series_days.series_id = latest_per_publication.series_id
        and series_days.date >= latest_per_publication.published_date

),

final as (

    select
        -- keys
        date,
        series_id,

        -- numerics
        case when date - observation_date <= staleness_days then value end as value,
        date - observation_date as age_days,
        staleness_days,

        -- booleans
        date - observation_date > staleness_days as is_stale,

        -- dates
        observation_date,
        published_date

    from as_of

)

select * from final
{% endmacro %}

{#-
    pit_sources(series_ids, caller_name): the sources (keys of var pit_daily_series, e.g.
    ['fred', 'treasury']) of the given series, in the var's order. A compile error names every
    id that is not in var pit_daily_series: such a series has no as-of rows, so its columns
    would be silently NULL.
-#}
{% macro pit_sources(series_ids, caller_name) -%}
    {%- set configured = var('pit_daily_series') -%}
    {%- set ns = namespace(known=[], sources=[]) -%}
    {%- for source, ids in configured.items() -%}
        {%- set ns.known = ns.known + ids -%}
        {%- if series_ids | select('in', ids) | list -%}
            {%- set ns.sources = ns.sources + [source] -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set missing = series_ids | reject('in', ns.known) | list -%}
    {%- if missing -%}
        {{ exceptions.raise_compiler_error(
            caller_name ~ ": series " ~ (missing | join(', '))
            ~ " not in var pit_daily_series (dbt_project.yml), so no int_<source>__series_asof_daily"
            ~ " model has rows for it; add the id there under its catalog source (it must be in"
            ~ " orchestration/catalog.yaml)"
        ) }}
    {%- endif -%}
    {{- return(ns.sources) -}}
{%- endmacro %}

{#-
    pit_columns(series_id, prefix): inside a `group by date` over the as-of rows
    (int_<source>__series_asof_daily), pivot one series into <prefix>_value, <prefix>_obs_date,
    <prefix>_age_days, <prefix>_is_stale. The value is already NULL when stale; is_stale is NULL
    when the series has not been published yet on that date (or is not loaded at all). A series
    missing from var('pit_daily_series') is a compile error, never a column of NULLs.
-#}
{% macro pit_columns(series_id, prefix) -%}
    {%- do pit_sources([series_id], 'pit_columns') -%}
    max(value) filter (where series_id = '{{ series_id }}') as {{ prefix }}_value,
    max(observation_date) filter (where series_id = '{{ series_id }}') as {{ prefix }}_obs_date,
    max(age_days) filter (where series_id = '{{ series_id }}') as {{ prefix }}_age_days,
    bool_or(is_stale) filter (where series_id = '{{ series_id }}') as {{ prefix }}_is_stale
{%- endmacro %}

{#-
    series_date_range(series_ids): a `(min_date, max_date)` subquery over the publications of
    the series (int_<source>__observations_published of their sources only): from the first
    publication of any of them to the last publication of any of them (capped at today). Marts
    build their spine inside it: they start where their inputs start and never create rows past
    the last date any input covers.
-#}
{% macro series_date_range(series_ids) -%}
    {%- set sources = pit_sources(series_ids, 'series_date_range') -%}
    (
        select
            min(published_date) as min_date,
            least(max(published_date), {{ warehouse_today() }}) as max_date
        from (
            {%- for source in sources %}
            select published_date
            from {{ ref('int_' ~ source ~ '__observations_published') }}
            where series_id in ({% for s in series_ids %}'{{ s }}'{% if not loop.last %}, {% endif %}{% endfor %})
            {{ "union all" if not loop.last }}
            {%- endfor %}
        ) as publications
    )
{%- endmacro %}

{#-
    pit_daily_frame(series_prefixes, range_series=none): a subquery with one row per calendar
    day inside series_date_range(range_series, default: every series given) and, per series,
    the pit_columns named by its prefix: {'WALCL': 'walcl', ...} -> walcl_value, walcl_obs_date,
    walcl_age_days, walcl_is_stale. The daily marts start from this frame. It reads the as-of
    models of the series' own sources only (var pit_daily_series), so a mart's lineage lists
    exactly the sources it uses.
-#}
{% macro pit_daily_frame(series_prefixes, range_series=none) -%}
{%- set series_ids = series_prefixes.keys() | list -%}
{%- set sources = pit_sources(series_ids, 'pit_daily_frame') -%}
    (
        with

        date_range as {{ series_date_range(range_series or series_ids) }},

        as_of as (

            select
                date,
                {%- for series_id, prefix in series_prefixes.items() %}
                {{ pit_columns(series_id, prefix) }}{{ "," if not loop.last }}
                {%- endfor %}
            from (
                {%- for source in sources %}
                select * from {{ ref('int_' ~ source ~ '__series_asof_daily') }}
                {{ "union all" if not loop.last }}
                {%- endfor %}
            ) as series_as_of
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
