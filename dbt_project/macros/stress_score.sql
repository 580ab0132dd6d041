{#-
    The stress score's arithmetic, in one place. fct_liquidity_pillars_daily builds the score
    from these macros and fct_stress_attribution_daily decomposes it with the same ones, so
    50 + sum of contribution_points = stress_score holds by construction (same pillars, same
    clip bounds, same available-pillar count), not by a second copy of the formula.

        contribution_points(p) = clip(p) / pillars_available * 100 / (2 * clip)
        stress_score           = 50 + sum over the five pillars of contribution_points(p)

    which is (mean of the clipped available pillars + clip) / (2 * clip) * 100 written as a sum:
    an unavailable pillar contributes 0 points, and every contribution is NULL (so the score
    is NULL) with fewer than var stress_min_pillars pillars.
-#}

{#- The pillar columns of fct_liquidity_pillars_daily, oriented + = stress, in display order. #}
{% macro stress_pillars() -%}
    {{ return(['pillar_net_liquidity_z', 'pillar_sofr_iorb_z', 'pillar_move_z',
               'pillar_yen_carry_z', 'pillar_hy_oas_z']) }}
{%- endmacro %}

{#-
    The lower clip bound of a pillar: -var stress_z_clip, except net liquidity's
    var stress_net_liquidity_floor_z (crisis lending raises net liquidity; docs/stress_score.md).
-#}
{% macro stress_pillar_floor(pillar) -%}
    {%- if pillar == 'pillar_net_liquidity_z' -%}
        {{ return(var('stress_net_liquidity_floor_z')) }}
    {%- else -%}
        {{ return(-(var('stress_z_clip') | float)) }}
    {%- endif -%}
{%- endmacro %}

{#- The pillar as the score counts it: clipped to [stress_pillar_floor, stress_z_clip]. #}
{% macro stress_pillar_clipped(pillar) -%}
    {{ clip(pillar, var('stress_z_clip'), stress_pillar_floor(pillar)) }}
{%- endmacro %}

{#- Number of non-NULL pillars of the row. #}
{% macro stress_pillars_available() -%}
    (
        {%- for p in stress_pillars() %}
        ({{ p }} is not null)::int{% if not loop.last %} +{% endif %}
        {%- endfor %}
    )
{%- endmacro %}

{#-
    Points (0-100 scale) the pillar adds to 50; `pillars_available` names the column (or
    expression) holding stress_pillars_available() of the same row.
-#}
{% macro stress_contribution_points(pillar, pillars_available='pillars_available') -%}
    (case
        when {{ pillars_available }} >= {{ var('stress_min_pillars') }}
            then coalesce({{ stress_pillar_clipped(pillar) }}, 0) / {{ pillars_available }}
                * 100 / (2 * {{ var('stress_z_clip') }})
    end)
{%- endmacro %}
