{#-
    rolling_zscore(column, order_by, window_days, min_obs, partition_by=none)
    z = (x - mean) / sample stddev over a trailing window of `window_days` CALENDAR days ending on
    (and including) the row's `order_by` date. NULL until the window holds at least `min_obs`
    non-NULL values, and NULL when x is NULL or the stddev is 0. Defaults: vars
    zscore_window_days (365) and zscore_min_obs (250).
-#}
{% macro rolling_zscore(column, order_by='date', window_days=none, min_obs=none, partition_by=none) -%}
    {%- set days = (window_days if window_days is not none else var('zscore_window_days')) | int -%}
    {%- set min_n = (min_obs if min_obs is not none else var('zscore_min_obs')) | int -%}
    {%- set w -%}
        over (
            {% if partition_by %}partition by {{ partition_by }} {% endif -%}
            order by {{ order_by }}
            range between interval {{ days - 1 }} days preceding and current row
        )
    {%- endset -%}
    (case
        when {{ column }} is not null and count({{ column }}) {{ w }} >= {{ min_n }}
            then ({{ column }} - avg({{ column }}) {{ w }})
                / nullif(stddev_samp({{ column }}) {{ w }}, 0)
    end)
{%- endmacro %}

{#-
    rolling_zscore_rows(column, order_by, window_rows, min_obs, partition_by=none)
    Same as rolling_zscore over the last `window_rows` ROWS (e.g. 52 weekly rows).
-#}
{% macro rolling_zscore_rows(column, order_by, window_rows, min_obs, partition_by=none) -%}
    {%- set w -%}
        over (
            {% if partition_by %}partition by {{ partition_by }} {% endif -%}
            order by {{ order_by }}
            rows between {{ (window_rows | int) - 1 }} preceding and current row
        )
    {%- endset -%}
    (case
        when {{ column }} is not null and count({{ column }}) {{ w }} >= {{ min_obs | int }}
            then ({{ column }} - avg({{ column }}) {{ w }})
                / nullif(stddev_samp({{ column }}) {{ w }}, 0)
    end)
{%- endmacro %}

{#-
    clip(expression, bound, lower=none): the value limited to [-bound, +bound], or to
    [lower, +bound] when a lower bound is given; NULL stays NULL (DuckDB's least/greatest skip
    NULL arguments, so the NULL case is explicit).
-#}
{% macro clip(expression, bound, lower=none) -%}
    {%- set floor = lower if lower is not none else '-(' ~ bound ~ ')' -%}
    (case
        when ({{ expression }}) is not null
            then least(greatest(cast({{ expression }} as double), {{ floor }}), {{ bound }})
    end)
{%- endmacro %}
