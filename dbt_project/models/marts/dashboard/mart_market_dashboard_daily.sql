{#-
    One wide row per day for BI: the headline liquidity, funding, stress, cross-asset and
    valuation figures. Days = every day of fct_liquidity_pillars_daily (calendar days covered by
    the liquidity/funding inputs) plus every shared trading day of fct_asset_returns_daily.
    Liquidity/funding/stress columns are point-in-time (see their marts; the stress drivers are
    the top two pillars of fct_stress_attribution_daily); market columns are that day's closes
    and returns (NULL on non-trading days); valuation columns come from the latest
    fct_valuation_monthly month available by D (its available_date: the SHILLER_PRICE row's
    publication), named in valuation_month.
-#}

with

pillars as (

    select * from {{ ref('fct_liquidity_pillars_daily') }}

),

net_liquidity as (

    select * from {{ ref('fct_net_liquidity_daily') }}

),

funding as (

    select * from {{ ref('fct_funding_stress_daily') }}

),

returns as (

    select
        date,
        max(close) filter (where asset = 'sp500') as sp500_close,
        max(return_1d) filter (where asset = 'sp500') as sp500_return_1d,
        max(return_1d) filter (where asset = 'nasdaq') as nasdaq_return_1d,
        max(return_1d) filter (where asset = 'gold') as gold_return_1d,
        max(return_1d) filter (where asset = 'silver') as silver_return_1d,
        max(return_1d) filter (where asset = 'wti') as wti_return_1d,
        max(return_1d) filter (where asset = 'btc') as btc_return_1d
    from {{ ref('fct_asset_returns_daily') }}
    group by date

),

cross_asset as (

    select * from {{ ref('fct_cross_asset_regime_daily') }}

),

-- the two pillars that moved the score most, and the two that moved its 20-day change most
stress_drivers as (

    select
        date,
        max(stress_score_change_20d) as stress_score_change_20d,
        max(pillar) filter (where driver_rank = 1) as stress_driver_1,
        max(contribution_points) filter (where driver_rank = 1) as stress_driver_1_points,
        max(pillar) filter (where driver_rank = 2) as stress_driver_2,
        max(contribution_points) filter (where driver_rank = 2) as stress_driver_2_points,
        max(pillar) filter (where change_driver_rank = 1) as stress_change_driver_1,
        max(contribution_change_20d) filter (where change_driver_rank = 1)
            as stress_change_driver_1_points,
        max(pillar) filter (where change_driver_rank = 2) as stress_change_driver_2,
        max(contribution_change_20d) filter (where change_driver_rank = 2)
            as stress_change_driver_2_points
    from {{ ref('fct_stress_attribution_daily') }}
    group by date

),

valuation as (

    select
        valuation.month as valuation_month,
        valuation.available_date as valuation_published_date,
        valuation.cape,
        valuation.cape_z_30y,
        valuation.trailing_pe,
        valuation.buffett_indicator_pct
    from {{ ref('fct_valuation_monthly') }} as valuation

),

days as (

    select date from pillars
    union
    select date from returns

),

joined as (

    select
        days.date,

        net_liquidity.net_liquidity_bn,
        net_liquidity.net_liquidity_change_4w_bn,
        net_liquidity.net_liquidity_z_1y,
        net_liquidity.fed_total_assets_bn,
        net_liquidity.tga_bn,
        net_liquidity.on_rrp_bn,

        funding.sofr_iorb_spread_bp,
        funding.is_quarter_end,
        funding.move_index,
        funding.hy_oas_pct,
        funding.usdjpy,
        funding.usdjpy_change_5d_pct,
        funding.us2y_jp2y_spread_bp,
        funding.carry_unwind_flag,

        pillars.stress_score,
        pillars.regime,
        stress_drivers.stress_score_change_20d,
        stress_drivers.stress_driver_1,
        stress_drivers.stress_driver_1_points,
        stress_drivers.stress_driver_2,
        stress_drivers.stress_driver_2_points,
        stress_drivers.stress_change_driver_1,
        stress_drivers.stress_change_driver_1_points,
        stress_drivers.stress_change_driver_2,
        stress_drivers.stress_change_driver_2_points,

        returns.sp500_close,
        returns.sp500_return_1d,
        returns.nasdaq_return_1d,
        returns.gold_return_1d,
        returns.silver_return_1d,
        returns.wti_return_1d,
        returns.btc_return_1d,

        cross_asset.avg_pairwise_correlation_20d,
        cross_asset.share_assets_down,
        cross_asset.is_synchronized_selloff,
        cross_asset.is_hedge_failure,

        net_liquidity.fed_total_assets_age_days,
        net_liquidity.tga_age_days,
        net_liquidity.on_rrp_age_days,
        funding.sofr_age_days,
        funding.move_age_days,
        funding.hy_oas_age_days,
        funding.usdjpy_age_days

    from days
    left join pillars
        on days.date = pillars.date
    left join net_liquidity
        on days.date = net_liquidity.date
    left join funding
        on days.date = funding.date
    left join returns
        on days.date = returns.date
    left join cross_asset
        on days.date = cross_asset.date
    left join stress_drivers
        on days.date = stress_drivers.date

),

with_valuation as (

    select
        joined.*,
        valuation.valuation_month,
        valuation.cape,
        valuation.cape_z_30y,
        valuation.trailing_pe,
        valuation.buffett_indicator_pct
    from joined
    asof left join valuation
        on joined.date >= valuation.valuation_published_date

)

select
    date,
    net_liquidity_bn,
    net_liquidity_change_4w_bn,
    net_liquidity_z_1y,
    fed_total_assets_bn,
    tga_bn,
    on_rrp_bn,
    sofr_iorb_spread_bp,
    is_quarter_end,
    move_index,
    hy_oas_pct,
    usdjpy,
    usdjpy_change_5d_pct,
    us2y_jp2y_spread_bp,
    carry_unwind_flag,
    stress_score,
    regime,
    stress_score_change_20d,
    stress_driver_1,
    stress_driver_1_points,
    stress_driver_2,
    stress_driver_2_points,
    stress_change_driver_1,
    stress_change_driver_1_points,
    stress_change_driver_2,
    stress_change_driver_2_points,
    sp500_close,
    sp500_return_1d,
    nasdaq_return_1d,
    gold_return_1d,
    silver_return_1d,
    wti_return_1d,
    btc_return_1d,
    avg_pairwise_correlation_20d,
    share_assets_down,
    is_synchronized_selloff,
    is_hedge_failure,
    valuation_month,
    cape,
    cape_z_30y,
    trailing_pe,
    buffett_indicator_pct,
    fed_total_assets_age_days,
    tga_age_days,
    on_rrp_age_days,
    sofr_age_days,
    move_age_days,
    hy_oas_age_days,
    usdjpy_age_days
from with_valuation
