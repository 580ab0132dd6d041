{#-
    warehouse_today(): the warehouse's "today", the UTC calendar date, as
    orchestration/lib/clock.py computes it in Python. Never current_date: DuckDB's current_date
    follows the process time zone (TZ), so the same input would build a row fewer in Los Angeles.
-#}
{% macro warehouse_today() -%}
    cast(timezone('UTC', current_timestamp) as date)
{%- endmacro %}
