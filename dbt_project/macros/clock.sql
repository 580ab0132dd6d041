{#-
    warehouse_today(): the warehouse's "today", the UTC calendar date, as
    orchestration/lib/clock.py computes it in Python. Never current_date: DuckDB's current_date
    follows the process time zone (TZ), so the same input would build a row fewer in Los Angeles.
    In an as-of build (var as_of, macros/as_of.sql) today is the as-of day.
-#}
{% macro warehouse_today() -%}
    {%- set instant = as_of_instant() -%}
    {%- if instant is none -%}
        cast(timezone('UTC', current_timestamp) as date)
    {%- else -%}
        cast({{ instant }} as date)
    {%- endif -%}
{%- endmacro %}
