-- The attribution identity: on every day with a stress score, fct_stress_attribution_daily has
-- one row per pillar and 50 + their contribution_points = stress_score (to 1e-6); their 20-day
-- changes add up to the score's own 20-day change. Days on only one side fail too.
with

scored as (

    select date, stress_score
    from {{ ref('fct_liquidity_pillars_daily') }}
    where stress_score is not null

),

attributed as (

    select
        date,
        count(*) as n_pillars,
        sum(contribution_points) as points,
        sum(contribution_change_20d) as change_points,
        max(stress_score_change_20d) as score_change
    from {{ ref('fct_stress_attribution_daily') }}
    group by date

),

checked as (

    select
        coalesce(scored.date, attributed.date) as date,
        scored.stress_score,
        attributed.n_pillars,
        attributed.points,
        attributed.change_points,
        attributed.score_change
    from scored
    full outer join attributed
        on scored.date = attributed.date

)

select
    *,
    case
        when stress_score is null then 'attribution for a day without a stress score'
        when n_pillars is null then 'scored day missing from the attribution'
        when n_pillars <> {{ stress_pillars() | length }} then 'not one row per pillar'
        when abs(50 + points - stress_score) > 1e-6 then '50 + contributions <> stress_score'
        else 'contribution changes do not add up to stress_score_change_20d'
    end as failure_reason
from checked
where
    stress_score is null
    or n_pillars is null
    or n_pillars <> {{ stress_pillars() | length }}
    or abs(50 + points - stress_score) > 1e-6
    or abs(change_points - score_change) > 1e-6
