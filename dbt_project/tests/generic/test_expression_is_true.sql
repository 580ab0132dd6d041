{#-
    expression_is_true: a boolean SQL expression holds on every row.

    Arguments:
      expression  SQL evaluated per row, e.g.
                  "abs(net_liquidity_bn - (fed_total_assets_bn - tga_bn - on_rrp_bn)) < 1e-6"
    When the test is attached to a column, the expression is appended to the column name
    (`<column> <expression>`, e.g. expression ">= 0"), as in dbt_utils.
    Only rows where the expression is FALSE fail; a NULL result passes (as in dbt_utils), so
    NULL inputs mean "not applicable". Wrap the expression in coalesce(..., false) to make NULL
    fail, or narrow the rows with `config: {where: ...}`. Failing rows carry `failure_reason`.

      data_tests:
        - expression_is_true:
            arguments:
              expression: "stress_score between 0 and 100"
-#}
{% test expression_is_true(model, expression, column_name=none) %}

{%- set full_expression = (column_name ~ " " ~ expression) if column_name else expression %}

select
    *,
    'expected true: {{ full_expression | replace("'", "''") }}' as failure_reason
from {{ model }}
where not ({{ full_expression }})

{% endtest %}
