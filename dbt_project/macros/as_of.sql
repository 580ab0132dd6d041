{#-
    "What did we know then": the raw layer is bitemporal (orchestration/lib/raw_tables.py). Each
    raw observation table holds the current version of every row; `<table>_history` beside it
    holds every version it replaced (`_superseded_at`, `_change` revised / deleted / vintage).

    A version is known from `_loaded_at` (when crosswind wrote it) or, where the source dates
    its own publication (`published_column`: FRED's realtime_start, ALFRED vintages included),
    from that day; it is known until `_superseded_at` (NULL: still current).

    With the var `as_of` (`crosswind asof`, never on the build warehouse: see
    check_as_of_target), staging reads each row as it was known at that instant: the version
    with the latest knowledge time not after it, unless that version had been deleted by then.
    Without it, staging reads the current tables exactly as before.
-#}

{#- as_of_instant(): the knowledge instant of an as-of build as a SQL timestamp literal, none
    otherwise. `as_of` is a UTC date (the end of that day: everything known on it) or a UTC
    timestamp `YYYY-MM-DD HH:MM:SS[.ffffff]`. -#}
{% macro as_of_instant() %}
    {%- set as_of = var('as_of', none) -%}
    {%- if as_of is none or (as_of | string | trim) == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set text = as_of | string | trim -%}
    {%- if text | length == 10 -%}
        {%- set text = text ~ ' 23:59:59.999999' -%}
    {%- endif -%}
    {%- set parsed = modules.re.fullmatch(
        '[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,6})?', text
    ) -%}
    {%- if parsed is none -%}
        {{ exceptions.raise_compiler_error(
            "var as_of = " ~ as_of ~ ": expected a UTC date YYYY-MM-DD or timestamp "
            ~ "YYYY-MM-DD HH:MM:SS") }}
    {%- endif -%}
    {{ return("timestamp '" ~ text | replace('T', ' ') ~ "'") }}
{% endmacro %}

{#- history_relation(relation): the history table of a raw table, named as raw_tables.py names
    it (RawTable.history). Written by the same ingestion asset, in the same transaction. -#}
{% macro history_relation(relation) %}
    {{ return(api.Relation.create(
        database=relation.database,
        schema=relation.schema,
        identifier=relation.identifier ~ '_history'
    )) }}
{% endmacro %}

{#- raw_versions(relation, published_column): every version of every row of a raw table, its
    columns plus _known_from, _known_to (NULL: current) and _change ('current' for the rows of
    the table itself). -#}
{% macro raw_versions(relation, published_column=none) %}
    {%- set known_from -%}
        {%- if published_column -%}
            coalesce(cast({{ published_column }} as timestamp), _loaded_at)
        {%- else -%}
            _loaded_at
        {%- endif -%}
    {%- endset -%}
    select
        *,
        {{ known_from }} as _known_from,
        cast(null as timestamp) as _known_to,
        'current' as _change
    from {{ relation }}
    union all by name
    select
        * exclude (_superseded_at),
        {{ known_from }} as _known_from,
        _superseded_at as _known_to
    from {{ history_relation(relation) }}
{% endmacro %}

{#- raw_as_of(relation, key, published_column): the relation itself, or, in an as-of build, a
    subquery with the same columns holding each row as known at as_of_instant(). -#}
{% macro raw_as_of(relation, key=['series_id', 'date'], published_column=none) %}
    {%- set instant = as_of_instant() -%}
    {%- if instant is none -%}
        {{ relation }}
    {%- else -%}
        (
            select * exclude (_known_from, _known_to, _change)
            from ({{ raw_versions(relation, published_column) }}) as versions
            where _known_from <= {{ instant }}
            qualify
                row_number() over (
                    partition by {{ key | join(', ') }}
                    order by _known_from desc, _loaded_at desc, _known_to desc nulls first
                ) = 1
                and (_known_to is null or _known_to > {{ instant }})
        )
    {%- endif -%}
{% endmacro %}

{#- check_as_of_target(): on-run-start guard. An as-of build replaces every model with what was
    known then, so it runs only on the copy `crosswind asof` makes (raw_meta.warehouse_info
    key as_of), never on the build warehouse, whose marts the serving copy publishes. -#}
{% macro check_as_of_target() %}
    {%- if execute and as_of_instant() is not none -%}
        {%- set has_info = run_query(
            "select count(*) from duckdb_tables() where database_name = current_database() "
            ~ "and schema_name = 'raw_meta' and table_name = 'warehouse_info'"
        ).rows[0][0] -%}
        {%- set marked = run_query(
            "select value from raw_meta.warehouse_info where key = 'as_of'"
        ).rows if has_info else [] -%}
        {%- if marked | length == 0 -%}
            {{ exceptions.raise_compiler_error(
                "var as_of is set but " ~ target.path ~ " is not an as-of copy: an as-of build "
                ~ "would replace the warehouse's marts. Run `crosswind asof DATE --dest DIR`.") }}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
