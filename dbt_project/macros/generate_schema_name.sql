{#-
    Schemas are exactly the configured custom schema (staging / intermediate / marts), with no
    target prefix: every environment has its own DuckDB file. The dagster-dbt default asset key
    is then [<schema>, <model>], i.e. the DuckDB relation.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
