{#-
    The incremental build of fct_cross_asset_correlation_daily. A stored correlation depends on
    the returns in its window (fct_asset_returns_daily: date, asset, return_1d) and on the
    settings below, nothing else. So the mart records, in the same transaction as its rows, the
    returns it was built from (correlation_inputs_relation, a table in the intermediate schema,
    written by correlation_record_inputs as a post-hook). The next build compares today's
    returns with them: for each asset, the earliest date whose return was added, removed or
    revised (a revision years back included) is where that asset's pairs are recomputed, reading
    the window's history before it. A day without new returns recomputes nothing. Changed
    settings (the recorded key differs) recompute everything, like --full-refresh.
-#}

{#- correlation_settings(): what a stored row depends on besides returns (vars, documented in
    dbt_project.yml). history_pairs: none = every pair keeps its full history; otherwise the
    sorted list of 'a|b' pairs (a < b) that do. -#}
{% macro correlation_settings() %}
    {%- set pairs = var('correlation_history_pairs', none) -%}
    {%- set normalised = none -%}
    {%- if pairs is not none -%}
        {%- set ns = namespace(items=[]) -%}
        {%- for pair in pairs -%}
            {%- if pair | length != 2 -%}
                {{ exceptions.raise_compiler_error(
                    "var correlation_history_pairs: " ~ pair ~ " is not a pair of two assets") }}
            {%- endif -%}
            {%- set ns.items = ns.items + [(pair | map('string') | sort | join('|'))] -%}
        {%- endfor -%}
        {%- set normalised = ns.items | unique | sort | list -%}
    {%- endif -%}
    {%- set windows = var('correlation_windows', [20, 60]) | map('int') | list -%}
    {{ return({
        'windows': windows,
        'min_share': var('correlation_min_obs_share', 0.75),
        'start_date': var('correlation_start_date', '2000-01-01') | string,
        'history_pairs': normalised,
        'recent_days': var('correlation_recent_days', 60) | int,
        'warmup_days': (windows | max) * 2
    }) }}
{% endmacro %}

{#- correlation_inputs_relation(): where the mart records the returns it was built from. In the
    intermediate schema, not marts: the serving copy publishes every table of marts. -#}
{% macro correlation_inputs_relation() %}
    {{ return(api.Relation.create(
        database=this.database, schema='intermediate', identifier=this.identifier ~ '__inputs'
    )) }}
{% endmacro %}

{% macro correlation_settings_key() %}
    {{ return(tojson(correlation_settings(), sort_keys=true) | replace("'", "''")) }}
{% endmacro %}

{#- correlation_plan(incremental): one row per pair of assets (asset_a < asset_b) of the
    current returns: keep_from (first date the mart keeps: correlation_start_date for a pair
    with history, else the first of the latest correlation_recent_days trading days),
    compute_from (first date computed in this build; NULL: the pair's rows stand) and read_from
    (the first return read: 2 x the longest window of trading days before compute_from, so the
    first computed row has its full window; returns sit on every shared trading day from an
    asset's first date, so the window is the same as in a full build). -#}
{% macro correlation_plan(incremental=false) %}
    {%- set s = correlation_settings() -%}
    {%- set inputs = correlation_inputs_relation() if incremental else none -%}
    {%- set recorded = adapter.get_relation(
        database=inputs.database, schema=inputs.schema, identifier=inputs.identifier
    ) if incremental else none -%}
    with

    returns as (

        select date, asset, return_1d
        from {{ ref('fct_asset_returns_daily') }}

    ),

    days as (

        select date, row_number() over (order by date) as day_number
        from (select distinct date from returns) as distinct_days

    ),

    recent as (

        select min(date) as cutoff
        from days
        where day_number > (select max(day_number) from days) - {{ s.recent_days }}

    ),

    assets as (

        select asset from returns group by asset

    ),

    pairs as (

        select
            a.asset as asset_a,
            b.asset as asset_b,
            {% if s.history_pairs is none -%}
            true
            {%- else -%}
            a.asset || '|' || b.asset in (
                {%- for p in s.history_pairs %}'{{ p }}'{{ ", " if not loop.last }}{% endfor -%}
            )
            {%- endif %} as keeps_history
        from assets as a
        inner join assets as b
            on a.asset < b.asset

    ),

    {% if incremental %}
    recorded as (

        {% if recorded is not none -%}
        select asset, date, return_1d
        from {{ recorded }}
        where settings_key = '{{ correlation_settings_key() }}'
        {%- else -%}
        -- nothing recorded yet: every return counts as new
        select
            cast(null as varchar) as asset,
            cast(null as date) as date,
            cast(null as double) as return_1d
        where false
        {%- endif %}

    ),

    changed as (

        select
            coalesce(returns.asset, recorded.asset) as asset,
            min(coalesce(returns.date, recorded.date)) as changed_from
        from returns
        full outer join recorded
            on returns.asset = recorded.asset
            and returns.date = recorded.date
        where returns.asset is null
            or recorded.asset is null
            or returns.return_1d is distinct from recorded.return_1d
        group by 1

    ),
    {% endif %}

    planned as (

        select
            pairs.asset_a,
            pairs.asset_b,
            case
                when pairs.keeps_history then cast('{{ s.start_date }}' as date)
                else recent.cutoff
            end as keep_from,
            {% if incremental -%}
            case
                -- least() skips NULL: the earlier change of the two assets
                when least(changed_a.changed_from, changed_b.changed_from) is null then null
                -- a recent-only pair is short: recompute all of it
                when not pairs.keeps_history then recent.cutoff
                else greatest(
                    cast('{{ s.start_date }}' as date),
                    least(changed_a.changed_from, changed_b.changed_from)
                )
            end as compute_from
            {%- else -%}
            case
                when pairs.keeps_history then cast('{{ s.start_date }}' as date)
                else recent.cutoff
            end as compute_from
            {%- endif %}
        from pairs
        cross join recent
        {% if incremental -%}
        left join changed as changed_a
            on pairs.asset_a = changed_a.asset
        left join changed as changed_b
            on pairs.asset_b = changed_b.asset
        {%- endif %}

    ),

    first_day as (

        -- the first trading day on or after compute_from
        select
            planned.*,
            days.day_number
        from planned
        asof left join days
            on planned.compute_from <= days.date

    )

    select
        first_day.asset_a,
        first_day.asset_b,
        first_day.keep_from,
        first_day.compute_from,
        read_day.date as read_from
    from first_day
    left join days as read_day
        on read_day.day_number = greatest(1, first_day.day_number - {{ s.warmup_days }})
{% endmacro %}

{#- correlation_delete_stale(): pre-hook of the incremental build, in its transaction. Keeps only
    the rows of pairs that still exist, inside keep_from, and before compute_from; the model then
    appends the recomputed rows. Logs how much is recomputed (the dbt log, hence Dagster's). -#}
{% macro correlation_delete_stale() %}
    {%- if execute and is_incremental() -%}
        {%- set summary = run_query(
            "select count(*), count(compute_from), min(compute_from) from ("
            ~ correlation_plan(incremental=true) ~ ") as plan"
        ).rows[0] -%}
        {%- do log(
            this.identifier ~ ": recomputing " ~ summary[1] ~ " of " ~ summary[0]
            ~ " pairs, from " ~ (summary[2] or "-"), info=true
        ) -%}
        delete from {{ this }} as stored
        where not exists (
            select 1
            from ({{ correlation_plan(incremental=true) }}) as plan
            where plan.asset_a = stored.asset_a
                and plan.asset_b = stored.asset_b
                and stored.date >= plan.keep_from
                and (plan.compute_from is null or stored.date < plan.compute_from)
        )
    {%- endif -%}
{% endmacro %}

{#- correlation_record_inputs(): post-hook, in the build's transaction: the returns this build
    read, under the settings key, for the next build to compare against. -#}
{% macro correlation_record_inputs() %}
    create or replace table {{ correlation_inputs_relation() }} as
    select
        asset,
        date,
        return_1d,
        '{{ correlation_settings_key() }}' as settings_key
    from {{ ref('fct_asset_returns_daily') }}
{% endmacro %}
