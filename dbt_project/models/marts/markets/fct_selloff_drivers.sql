{#-
    Why everything fell together: one row per synchronized-selloff or hedge-failure day
    (fct_cross_asset_regime_daily) and funding driver, with the driver's readings over the
    day's lookback window: the last var selloff_driver_lookback_days (5) trading days of that
    mart, the selloff day included.

    driver                   reading (unit)                                  active when
    carry_unwind             USD/JPY 5-day change (pct), that day's          carry_unwind_flag: USD/JPY
                             carry_unwind_flag in `detail`                   <= -2 % and US2Y-JP2Y
                                                                             <= -10 bp over 5 days
    margin_hike              each COMEX margin change effective that day     a change of a counted kind
                             (pct_change of the maintenance margin)          (var selloff_driver_margin_
                                                                             kinds: policy) raising the
                                                                             margin >= threshold
    move_z                   MOVE 1-year z-score (z)                         >= threshold
    sofr_iorb_spread         SOFR - IORB (bp)                                >= threshold
    net_liquidity_change_4w  net liquidity 4-week change (usd_bn)            <= threshold
    hy_oas_change_5d         HY OAS minus its value 7 calendar days          >= threshold
                             earlier (pct_points)

    Margin kinds (fct_margin_events.change_kind): 'policy' changes are CME decisions (every
    change of the fixed-USD era, the switch to % of notional, a changed percentage);
    'mechanical' ones are the daily recalculation of a percentage-of-notional margin from the
    settlement price since 2026-01-13, which follows prices rather than forcing deleveraging, so
    it does not count by default ('unclassified': no price to tell).

    Point in time: every reading is dated on or before the selloff day and comes from a mart that
    is itself point-in-time (fct_funding_stress_daily, fct_net_liquidity_daily: values published
    by the end of the day; a margin change is announced before it takes effect). Nothing after
    the selloff day is read; fct_margin_events' forward returns are not used.

    value / value_date: the window's most stressed reading (active readings first, then the
    highest for at_or_above drivers or the lowest for at_or_below ones; the latest on ties);
    value_on_day: the most stressed reading of the selloff day itself. is_active: the driver
    was active on at least one reading of the window; NULL when the window has no reading at
    all (the series had not started or had gone stale), and for margin_hike when the window is
    not inside the curated history's span (it starts after the window began, or its last
    recorded change is before the selloff day: not extended yet, so "no hike" is not known).
-#}
{%- set lookback = var('selloff_driver_lookback_days') | int %}
{%- set margin_kinds = var('selloff_driver_margin_kinds') %}
{#- drivers of fct_funding_stress_daily judged on their threshold alone: driver -> column #}
{%- set threshold_only_drivers = {
    'move_z': 'move_index_z_1y',
    'sofr_iorb_spread': 'sofr_iorb_spread_bp',
    'hy_oas_change_5d': 'hy_oas_change_5d_pp',
} %}

with

regime as (

    select * from {{ ref('fct_cross_asset_regime_daily') }}

),

funding as (

    select * from {{ ref('fct_funding_stress_daily') }}

),

net_liquidity as (

    select date, net_liquidity_change_4w_bn from {{ ref('fct_net_liquidity_daily') }}

),

margin_changes as (

    select product, effective_date, change_kind, pct_change
    from {{ ref('fct_margin_events') }}
    where direction <> 'series_start'

),

-- the span the curated margin history covers: no change recorded inside it is a known "no";
-- after its last change the file may simply not have been extended yet
margin_history as (

    select min(effective_date) as first_date, max(effective_date) as last_date
    from {{ ref('fct_margin_events') }}

),

drivers as (

    select * from (
        values
        ('carry_unwind', 1, 'pct', {{ var('carry_unwind_usdjpy_5d_pct') }}, 'at_or_below'),
        ('margin_hike', 2, 'pct', {{ var('selloff_driver_margin_hike_pct') }}, 'at_or_above'),
        ('move_z', 3, 'z', {{ var('selloff_driver_move_z') }}, 'at_or_above'),
        ('sofr_iorb_spread', 4, 'bp', {{ var('selloff_driver_sofr_iorb_bp') }}, 'at_or_above'),
        (
            'net_liquidity_change_4w', 5, 'usd_bn',
            {{ var('selloff_driver_net_liquidity_4w_bn') }}, 'at_or_below'
        ),
        (
            'hy_oas_change_5d', 6, 'pct_points',
            {{ var('selloff_driver_hy_oas_change_5d_pp') }}, 'at_or_above'
        )
    ) as thresholds (driver, driver_order, unit, threshold, threshold_side)  -- noqa: AL05

),

trading_days as (

    select
        date,
        is_synchronized_selloff,
        is_hedge_failure,
        equity_return_1d,
        share_assets_down,
        coalesce(
            lag(date, {{ lookback - 1 }}) over (order by date), min(date) over ()
        ) as window_start
    from regime

),

selloff_days as (

    select * from trading_days
    where is_synchronized_selloff or is_hedge_failure

),

-- 5 business days = 7 calendar days, as the funding mart's other 5-day changes
funding_changes as (

    select
        today.*,
        today.hy_oas_pct - week_before.hy_oas_pct as hy_oas_change_5d_pp
    from funding as today
    left join funding as week_before
        on today.date - 7 = week_before.date

),

-- one row per calendar day and daily driver; `condition` must hold besides the threshold
daily_readings as (

    select
        date,
        'carry_unwind' as driver,
        usdjpy_change_5d_pct as value,
        carry_unwind_flag as condition,
        printf(
            'USD/JPY %+.2f %% and US2Y-JP2Y %+.1f bp over 5 business days',
            usdjpy_change_5d_pct, us2y_jp2y_spread_change_5d_bp
        ) as detail
    from funding_changes
    {%- for driver, column in threshold_only_drivers.items() %}
    union all
    select
        date,
        '{{ driver }}' as driver,
        {{ column }} as value,
        true as condition,
        null as detail
    from funding_changes
    {%- endfor %}
    union all
    select
        date,
        'net_liquidity_change_4w' as driver,
        net_liquidity_change_4w_bn as value,
        true as condition,
        null as detail
    from net_liquidity

),

margin_readings as (

    select
        effective_date as date,
        'margin_hike' as driver,
        pct_change as value,
        coalesce(change_kind in ('{{ margin_kinds | join("', '") }}'), false) as condition,
        strftime(effective_date, '%Y-%m-%d') || ' ' || product || ' '
        || printf('%+.1f %%', pct_change) || ' ' || change_kind as detail
    from margin_changes

),

-- the readings of each selloff day's window: daily drivers on its trading days, margin changes
-- effective from its first trading day to the selloff day
window_readings as (

    select
        selloff_days.date,
        daily_readings.date as reading_date,
        daily_readings.driver,
        daily_readings.value,
        daily_readings.condition,
        daily_readings.detail
    from selloff_days
    inner join trading_days
        on trading_days.date between selloff_days.window_start and selloff_days.date
    inner join daily_readings
        on trading_days.date = daily_readings.date
    union all
    select
        selloff_days.date,
        margin_readings.date as reading_date,
        margin_readings.driver,
        margin_readings.value,
        margin_readings.condition,
        margin_readings.detail
    from selloff_days
    inner join margin_readings
        on margin_readings.date between selloff_days.window_start and selloff_days.date

),

assessed as (

    select
        window_readings.*,
        case drivers.threshold_side
            when 'at_or_above' then window_readings.value
            else -window_readings.value
        end as stress_order,
        window_readings.condition and case drivers.threshold_side
            when 'at_or_above' then window_readings.value >= drivers.threshold
            else window_readings.value <= drivers.threshold
        end as is_active
    from window_readings
    inner join drivers
        on window_readings.driver = drivers.driver

),

ranked as (

    select
        *,
        row_number() over (
            partition by date, driver
            order by is_active desc nulls last, stress_order desc nulls last, reading_date desc
        ) as stress_rank
    from assessed

),

summarised as (

    select
        date,
        driver,
        max(value) filter (where stress_rank = 1) as value,
        max(reading_date) filter (where stress_rank = 1 and value is not null) as value_date,
        arg_max(value, stress_order) filter (where reading_date = date) as value_on_day,
        count(value) as readings,
        count(*) filter (where is_active) as active_readings,
        bool_or(is_active) as is_active,
        bool_or(is_active) filter (where reading_date = date) as is_active_on_day,
        case
            when driver = 'margin_hike'
                then string_agg(detail, '; ' order by reading_date, detail)
                    filter (where is_active)
            else max(detail) filter (where stress_rank = 1 and value is not null)
        end as detail
    from ranked
    group by date, driver

),

final as (

    select
        selloff_days.date,
        drivers.driver,
        drivers.driver_order,
        selloff_days.is_synchronized_selloff,
        selloff_days.is_hedge_failure,
        selloff_days.equity_return_1d,
        selloff_days.share_assets_down,
        selloff_days.window_start,
        drivers.unit,
        drivers.threshold,
        drivers.threshold_side,
        summarised.value,
        summarised.value_date,
        summarised.value_on_day,
        coalesce(summarised.readings, 0) as readings,
        coalesce(summarised.active_readings, 0) as active_readings,
        case
            when drivers.driver = 'margin_hike'
                and selloff_days.window_start >= margin_history.first_date
                and selloff_days.date <= margin_history.last_date
                then coalesce(summarised.is_active, false)
            else summarised.is_active
        end as is_active,
        case
            when drivers.driver = 'margin_hike'
                and selloff_days.date between margin_history.first_date
                and margin_history.last_date
                then coalesce(summarised.is_active_on_day, false)
            else summarised.is_active_on_day
        end as is_active_on_day,
        summarised.detail
    from selloff_days
    cross join drivers
    cross join margin_history
    left join summarised
        on selloff_days.date = summarised.date
        and drivers.driver = summarised.driver

)

select
    cast(date as date) as date,
    cast(driver as varchar) as driver,
    cast(driver_order as integer) as driver_order,
    cast(is_synchronized_selloff as boolean) as is_synchronized_selloff,
    cast(is_hedge_failure as boolean) as is_hedge_failure,
    cast(equity_return_1d as double) as equity_return_1d,
    cast(share_assets_down as double) as share_assets_down,
    cast(window_start as date) as window_start,
    cast(unit as varchar) as unit,
    cast(threshold as double) as threshold,
    cast(threshold_side as varchar) as threshold_side,
    cast(value as double) as value,
    cast(value_date as date) as value_date,
    cast(value_on_day as double) as value_on_day,
    cast(readings as integer) as readings,
    cast(active_readings as integer) as active_readings,
    cast(is_active as boolean) as is_active,
    cast(is_active_on_day as boolean) as is_active_on_day,
    cast(detail as varchar) as detail
from final
