{#-
    The five liquidity pillars as z-scores, a composite stress score and a regime, one row per
    calendar day (the union of the days of fct_net_liquidity_daily and fct_funding_stress_daily).
    Every pillar is oriented so that POSITIVE = MORE STRESS:
      pillar_net_liquidity_z = -net_liquidity_z_1y           (less liquidity = stress)
      pillar_sofr_iorb_z     =  sofr_iorb_spread_z_1y         (SOFR above IORB = stress)
      pillar_move_z          =  move_index_z_1y               (rate volatility)
      pillar_yen_carry_z     = mean of available (-usdjpy_change_5d_z_1y, -us2y_jp2y_spread_z_1y)
                               (yen strengthening, carry cushion shrinking)
      pillar_hy_oas_z        =  hy_oas_z_1y                   (credit spreads widening)
    stress_score = (mean of the available pillars, each clipped to [-3, 3], + 3) / 6 * 100,
    i.e. 0 = every pillar at -3 sigma, 50 = neutral, 100 = every pillar at +3 sigma; NULL when
    fewer than var stress_min_pillars (3) pillars are available. It is computed as 50 + the
    sum of each pillar's contribution_points (macros/stress_score.sql), the same macros
    fct_stress_attribution_daily decomposes it with. The net-liquidity pillar is
    clipped to [var stress_net_liquidity_floor_z (-1), 3] instead: the fastest rises in net
    liquidity are the Fed's crisis lending (2020, SVB in 2023), which a z-score would read as
    calm at the height of the stress; a liquidity drain still counts in full. The pillar
    column keeps the unclipped z (docs/stress_score.md has the evidence).
    regime, with hysteresis (two Schmitt triggers on stress_score, computed with windows, no
    recursion): the stress trigger switches on at >= 70 and off only below 60; the tightening
    trigger on at >= 55 and off only below 45; between the thresholds a trigger keeps its last
    state (initially off). regime = 'stress' if the stress trigger is on, else 'tightening' if
    the tightening trigger is on, else 'calm'; NULL when stress_score is NULL.
-#}
with

net_liquidity as (

    select date, net_liquidity_z_1y
    from {{ ref('fct_net_liquidity_daily') }}

),

funding as (

    select
        date,
        sofr_iorb_spread_z_1y,
        move_index_z_1y,
        usdjpy_change_5d_z_1y,
        us2y_jp2y_spread_z_1y,
        hy_oas_z_1y
    from {{ ref('fct_funding_stress_daily') }}

),

joined as (

    select
        coalesce(net_liquidity.date, funding.date) as date,
        net_liquidity.net_liquidity_z_1y,
        funding.sofr_iorb_spread_z_1y,
        funding.move_index_z_1y,
        funding.usdjpy_change_5d_z_1y,
        funding.us2y_jp2y_spread_z_1y,
        funding.hy_oas_z_1y
    from net_liquidity
    full outer join funding
        on net_liquidity.date = funding.date

),

pillars as (

    select
        date,
        -net_liquidity_z_1y as pillar_net_liquidity_z,
        sofr_iorb_spread_z_1y as pillar_sofr_iorb_z,
        move_index_z_1y as pillar_move_z,
        case
            when usdjpy_change_5d_z_1y is not null or us2y_jp2y_spread_z_1y is not null
                then
                    (coalesce(-usdjpy_change_5d_z_1y, 0) + coalesce(-us2y_jp2y_spread_z_1y, 0))
                    / (
                        cast(usdjpy_change_5d_z_1y is not null as int)
                        + cast(us2y_jp2y_spread_z_1y is not null as int)
                    )
        end as pillar_yen_carry_z,
        hy_oas_z_1y as pillar_hy_oas_z
    from joined

),

available as (

    select
        *,
        {{ stress_pillars_available() }} as pillars_available
    from pillars

),

score as (

    -- every contribution is NULL below stress_min_pillars, and so is the score; the points
    -- are summed before adding 50, which keeps the extremes exact (3 pillars at +3: 100.0)
    select
        *,
        50 + (
            {%- for p in stress_pillars() %}
            {{ stress_contribution_points(p) }}{% if not loop.last %} +{% endif %}
            {%- endfor %}
        ) as stress_score
    from available

),

triggers as (

    select
        *,
        -- last decisive reading of each trigger: true above its entry, false below its exit,
        -- NULL (keep the previous state) in between
        last_value(
            case
                when stress_score >= {{ var('regime_stress_enter') }} then true
                when stress_score < {{ var('regime_stress_exit') }} then false
            end ignore nulls
        ) over (order by date rows between unbounded preceding and current row)
            as is_stress_trigger_on,
        last_value(
            case
                when stress_score >= {{ var('regime_tightening_enter') }} then true
                when stress_score < {{ var('regime_tightening_exit') }} then false
            end ignore nulls
        ) over (order by date rows between unbounded preceding and current row)
            as is_tightening_trigger_on
    from score

),

final as (

    select
        date,
        pillar_net_liquidity_z,
        pillar_sofr_iorb_z,
        pillar_move_z,
        pillar_yen_carry_z,
        pillar_hy_oas_z,
        cast(pillars_available as integer) as pillars_available,
        stress_score,
        case
            when stress_score is null then null
            when coalesce(is_stress_trigger_on, false) then 'stress'
            when coalesce(is_tightening_trigger_on, false) then 'tightening'
            else 'calm'
        end as regime
    from triggers

)

select * from final
