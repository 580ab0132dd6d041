{#-
    Funding, rate-volatility, credit and yen-carry stress, one row per calendar day,
    point-in-time (int_fred__, int_markets__ and int_mof__series_asof_daily: values published by
    the end of D, NULL past their staleness limit).
    - sofr_iorb_spread_bp = (SOFR - IORB) * 100; is_quarter_end when the SOFR observation shown
      is the last business day of a calendar quarter on SOFR's publisher calendar (catalog
      release_calendar, int_publisher_calendars).
    - usdjpy: the market quote (USDJPY) or, when it is missing, FRED DEXJPUS (usdjpy_source).
    - 5-day changes compare D with D - 7 calendar days (5 business days back for a weekday).
    - carry_unwind_flag: USD/JPY 5-day change <= var carry_unwind_usdjpy_5d_pct (-2%, yen
      strengthening) AND US2Y-JP2Y 5-day change <= var carry_unwind_spread_5d_bp (-10 bp,
      carry cushion shrinking); NULL when either change is unknown.
    - *_z_1y: rolling z over 365 calendar days, NULL until 250 non-NULL values (macro
      rolling_zscore; vars zscore_window_days / zscore_min_obs).
-#}
with

sofr_calendar as (

    select release_calendar
    from {{ ref('stg_meta__series_catalog') }}
    where series_id = 'SOFR'

),

quarter_ends as (

    -- last business day of each quarter on SOFR's publisher calendar (us_bond_market: no SOFR
    -- on Good Friday 2024-03-29, so Q1 2024 ends on Thursday 2024-03-28)
    select publisher_days.date
    from {{ ref('int_publisher_calendars') }} as publisher_days
    inner join sofr_calendar
        on publisher_days.calendar = sofr_calendar.release_calendar
    where publisher_days.is_quarter_end

),

joined as {{ pit_daily_frame({
    'SOFR': 'sofr',
    'IORB': 'iorb',
    'MOVE': 'move',
    'BAMLH0A0HYM2': 'hy_oas',
    'USDJPY': 'usdjpy_mkt',
    'DEXJPUS': 'usdjpy_fred',
    'DGS2': 'us2y',
    'JGB2Y': 'jp2y',
}) }},

levels as (

    select
        joined.date,
        joined.sofr_value as sofr_pct,
        joined.iorb_value as iorb_pct,
        (joined.sofr_value - joined.iorb_value) * 100 as sofr_iorb_spread_bp,
        quarter_ends.date is not null as is_quarter_end,
        joined.move_value as move_index,
        joined.hy_oas_value as hy_oas_pct,
        coalesce(joined.usdjpy_mkt_value, joined.usdjpy_fred_value) as usdjpy,
        case
            when joined.usdjpy_mkt_value is not null then 'USDJPY'
            when joined.usdjpy_fred_value is not null then 'DEXJPUS'
        end as usdjpy_source,
        joined.us2y_value as us2y_pct,
        joined.jp2y_value as jp2y_pct,
        (joined.us2y_value - joined.jp2y_value) * 100 as us2y_jp2y_spread_bp,

        joined.sofr_obs_date,
        joined.sofr_age_days,
        joined.iorb_age_days,
        joined.move_age_days,
        joined.hy_oas_age_days,
        case
            when joined.usdjpy_mkt_value is not null then joined.usdjpy_mkt_age_days
            when joined.usdjpy_fred_value is not null then joined.usdjpy_fred_age_days
            else joined.usdjpy_mkt_age_days
        end as usdjpy_age_days,
        joined.us2y_age_days,
        joined.jp2y_age_days,
        nullif(concat_ws(
            ',',
            case when joined.sofr_is_stale then 'SOFR' end,
            case when joined.iorb_is_stale then 'IORB' end,
            case when joined.move_is_stale then 'MOVE' end,
            case when joined.hy_oas_is_stale then 'BAMLH0A0HYM2' end,
            case
                when joined.usdjpy_mkt_is_stale
                    and coalesce(joined.usdjpy_fred_is_stale, true) then 'USDJPY'
            end,
            case when joined.us2y_is_stale then 'DGS2' end,
            case when joined.jp2y_is_stale then 'JGB2Y' end
        ), '') as stale_inputs
    from joined
    left join quarter_ends
        on joined.sofr_obs_date = quarter_ends.date

),

changes as (

    select
        *,
        (usdjpy / lag(usdjpy, 7) over (order by date) - 1) * 100 as usdjpy_change_5d_pct,
        us2y_jp2y_spread_bp - lag(us2y_jp2y_spread_bp, 7) over (order by date)
            as us2y_jp2y_spread_change_5d_bp
    from levels

),

flagged as (

    select
        *,
        case
            when usdjpy_change_5d_pct is not null and us2y_jp2y_spread_change_5d_bp is not null
                then (
                    usdjpy_change_5d_pct <= {{ var('carry_unwind_usdjpy_5d_pct') }}
                    and us2y_jp2y_spread_change_5d_bp <= {{ var('carry_unwind_spread_5d_bp') }}
                )
        end as carry_unwind_flag
    from changes

),

final as (

    select
        date,
        sofr_pct,
        iorb_pct,
        sofr_iorb_spread_bp,
        is_quarter_end,
        move_index,
        hy_oas_pct,
        usdjpy,
        usdjpy_source,
        usdjpy_change_5d_pct,
        us2y_pct,
        jp2y_pct,
        us2y_jp2y_spread_bp,
        us2y_jp2y_spread_change_5d_bp,
        carry_unwind_flag,
        {{ rolling_zscore('sofr_pct') }} as sofr_z_1y,
        {{ rolling_zscore('sofr_iorb_spread_bp') }} as sofr_iorb_spread_z_1y,
        {{ rolling_zscore('move_index') }} as move_index_z_1y,
        {{ rolling_zscore('hy_oas_pct') }} as hy_oas_z_1y,
        {{ rolling_zscore('usdjpy') }} as usdjpy_z_1y,
        {{ rolling_zscore('usdjpy_change_5d_pct') }} as usdjpy_change_5d_z_1y,
        {{ rolling_zscore('us2y_pct') }} as us2y_z_1y,
        {{ rolling_zscore('jp2y_pct') }} as jp2y_z_1y,
        {{ rolling_zscore('us2y_jp2y_spread_bp') }} as us2y_jp2y_spread_z_1y,
        sofr_obs_date,
        cast(sofr_age_days as integer) as sofr_age_days,
        cast(iorb_age_days as integer) as iorb_age_days,
        cast(move_age_days as integer) as move_age_days,
        cast(hy_oas_age_days as integer) as hy_oas_age_days,
        cast(usdjpy_age_days as integer) as usdjpy_age_days,
        cast(us2y_age_days as integer) as us2y_age_days,
        cast(jp2y_age_days as integer) as jp2y_age_days,
        stale_inputs
    from flagged

)

select * from final
