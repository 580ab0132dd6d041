{#-
    The stress score taken apart: one row per scored day (stress_score not NULL) and pillar.

    contribution_points is the pillar's share of the score's distance from 50, computed with the
    score's own macros (macros/stress_score.sql) on the row of fct_liquidity_pillars_daily that
    produced the score: clip(z) / pillars_available * 100 / (2 * clip), 0 for a pillar that is
    unavailable that day. So 50 + the day's sum of contribution_points = stress_score.

    The 20-day change compares D with D - 28 calendar days (20 business days; the rows are
    calendar days, as for the 5-day = 7-calendar-day changes of fct_funding_stress_daily):
    contribution_change_20d = contribution_points(D) - contribution_points(D - 28), NULL when
    D - 28 was not scored; their sum is stress_score_change_20d. A pillar's points also move
    when another pillar appears or drops out (the mean's denominator changes): that is part of
    what changed the score.

    driver_rank orders the day's pillars by |contribution_points| (largest first, ties in pillar
    order), change_driver_rank by |contribution_change_20d|: rank 1 is what moved the score
    most, in either direction (the sign says which).
-#}
{%- set change_days = 28 %}

with

pillars as (

    select * from {{ ref('fct_liquidity_pillars_daily') }}
    where stress_score is not null

),

contributions as (

    {%- for p in stress_pillars() %}

    select
        date,
        '{{ p[7:-2] }}' as pillar,
        {{ loop.index }} as pillar_order,
        {{ p }} as z,
        {{ stress_pillar_floor(p) }} as clip_lower,
        {{ var('stress_z_clip') }} as clip_upper,
        {{ stress_pillar_clipped(p) }} as z_clipped,
        pillars_available,
        {{ stress_contribution_points(p) }} as contribution_points,
        stress_score
    from pillars
    {%- if not loop.last %}

    union all
    {%- endif %}
    {%- endfor %}

),

changes as (

    select
        today.*,
        before.date as change_base_date,
        before.contribution_points as contribution_points_base,
        today.contribution_points - before.contribution_points as contribution_change_20d,
        today.stress_score - before.stress_score as stress_score_change_20d
    from contributions as today
    left join contributions as before
        on today.pillar = before.pillar
        and today.date - {{ change_days }} = before.date

),

ranked as (

    select
        *,
        row_number() over (
            partition by date order by abs(contribution_points) desc, pillar_order
        ) as driver_rank,
        case
            when contribution_change_20d is not null
                then row_number() over (
                        partition by date
                        order by abs(contribution_change_20d) desc nulls last, pillar_order
                    )
        end as change_driver_rank
    from changes

)

select
    cast(date as date) as date,
    cast(pillar as varchar) as pillar,
    cast(pillar_order as integer) as pillar_order,
    cast(z as double) as z,
    cast(clip_lower as double) as clip_lower,
    cast(clip_upper as double) as clip_upper,
    cast(z_clipped as double) as z_clipped,
    cast(pillars_available as integer) as pillars_available,
    cast(contribution_points as double) as contribution_points,
    cast(driver_rank as integer) as driver_rank,
    cast(stress_score as double) as stress_score,
    cast(change_base_date as date) as change_base_date,
    cast(contribution_points_base as double) as contribution_points_base,
    cast(contribution_change_20d as double) as contribution_change_20d,
    cast(change_driver_rank as integer) as change_driver_rank,
    cast(stress_score_change_20d as double) as stress_score_change_20d
from ranked
