{#-
    value_in_catalog_range(series_id): every non-NULL value lies in the plausible range that
    orchestration/catalog.yaml gives the series (raw_meta.series_catalog range_min / range_max,
    in the stored unit). The range is read from the catalog when the test runs, so a mart's range
    test and the catalog cannot disagree. A series id missing from the catalog fails the test
    (one row saying so) instead of passing with nothing to compare.
-#}
{% test value_in_catalog_range(model, column_name, series_id) %}

with

bounds as (

    select range_min, range_max
    from {{ ref('stg_meta__series_catalog') }}
    where series_id = '{{ series_id }}'

),

out_of_range as (

    select
        cast({{ column_name }} as double) as value,
        '{{ column_name }} outside the catalog range of {{ series_id }} ['
        || bounds.range_min || ', ' || bounds.range_max || ']' as failure_reason
    from {{ model }}
    cross join bounds
    where {{ column_name }} is not null
        and {{ column_name }} not between bounds.range_min and bounds.range_max

),

missing_series as (

    select
        cast(null as double) as value,
        '{{ series_id }} is not in raw_meta.series_catalog (orchestration/catalog.yaml)'
            as failure_reason
    where not exists (select 1 from bounds)

)

select * from out_of_range
union all
select * from missing_series

{% endtest %}
