{#-
    value_between: every non-null value of the column lies in [min_value, max_value].

    Arguments:
      min_value  inclusive lower bound, or omit for none
      max_value  inclusive upper bound, or omit for none
    NULLs pass (use not_null for that). Failing rows are returned with the offending value and
    a `failure_reason`, so `dbt build --store-failures` or the log shows what broke.

      data_tests:
        - value_between:
            arguments: {min_value: 0, max_value: 100}
-#}
{% test value_between(model, column_name, min_value=none, max_value=none) %}

{%- if min_value is none and max_value is none -%}
    {{ exceptions.raise_compiler_error(
        "value_between on " ~ model ~ "." ~ column_name ~ ": give min_value and/or max_value") }}
{%- endif %}

with

checked as (

    select
        *,
        {{ column_name }} as tested_value
    from {{ model }}
    where {{ column_name }} is not null

),

failures as (

    select
        *,
        '{{ column_name }} = ' || cast(tested_value as varchar)
            || ' outside [{{ min_value if min_value is not none else "-inf" }}, '
            || '{{ max_value if max_value is not none else "+inf" }}]' as failure_reason
    from checked
    where
        false
        {%- if min_value is not none %}
        or tested_value < {{ min_value }}
        {%- endif %}
        {%- if max_value is not none %}
        or tested_value > {{ max_value }}
        {%- endif %}

)

select * from failures

{% endtest %}
