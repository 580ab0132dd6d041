{#-
    unique_combination: the given columns together identify a row (a composite key).

    Arguments:
      columns  list of column names (or SQL expressions), e.g. [series_id, date]
    Each duplicated key is returned once with `n_rows` and a `failure_reason`.
    NULL key parts count as values (two rows with NULL in the same key part are duplicates);
    add not_null tests on the key columns to forbid NULLs.

      data_tests:
        - unique_combination:
            arguments: {columns: [series_id, date]}
-#}
{% test unique_combination(model, columns) %}

{%- if columns is string -%}
    {%- set columns = [columns] -%}
{%- endif -%}
{%- if columns | length == 0 -%}
    {{ exceptions.raise_compiler_error("unique_combination on " ~ model ~ ": columns is empty") }}
{%- endif %}

with

grouped as (

    select
        {%- for col in columns %}
        {{ col }},
        {%- endfor %}
        count(*) as n_rows
    from {{ model }}
    group by all
    having count(*) > 1

)

select
    *,
    'duplicate key ({{ columns | join(", ") }}) = ('
    {%- for col in columns %}
        || coalesce(cast({{ col }} as varchar), 'NULL')
        {%- if not loop.last %} || ', '{% endif %}
    {%- endfor %}
        || ') on ' || cast(n_rows as varchar) || ' rows' as failure_reason
from grouped

{% endtest %}
