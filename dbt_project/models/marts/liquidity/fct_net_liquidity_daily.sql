{#-
    Net liquidity, one row per calendar day, point-in-time: the row for D uses only values
    published by the end of D (int_fred__ and int_treasury__series_asof_daily). USD billions.
      net_liquidity_bn = fed_total_assets_bn - tga_bn - on_rrp_bn
    TGA: the Daily Treasury Statement closing balance when available on D, else H.4.1 WDTGAL
    (Wednesday level), else WTREGEN (week average); `tga_source` says which.
    Remittances variant: net_liquidity_bn - RESPPLLOPNWW where that series is loaded.
-#}
with

-- The remittances account joins the frame but does not stretch its date range.
joined as {{ pit_daily_frame(
    {
        'WALCL': 'walcl',
        'TGA': 'dts',
        'WDTGAL': 'wdtgal',
        'WTREGEN': 'wtregen',
        'RRPONTSYD': 'rrp',
        'RESPPLLOPNWW': 'remit',
    },
    range_series=['WALCL', 'TGA', 'WDTGAL', 'WTREGEN', 'RRPONTSYD'],
) }},

levels as (

    select
        date,

        walcl_value as fed_total_assets_bn,
        case
            when dts_value is not null then 'DTS'
            when wdtgal_value is not null then 'WDTGAL'
            when wtregen_value is not null then 'WTREGEN'
        end as tga_source,
        coalesce(dts_value, wdtgal_value, wtregen_value) as tga_bn,
        rrp_value as on_rrp_bn,
        remit_value as remittances_bn,

        walcl_obs_date as fed_total_assets_obs_date,
        case
            when dts_value is not null then dts_obs_date
            when wdtgal_value is not null then wdtgal_obs_date
            when wtregen_value is not null then wtregen_obs_date
            else dts_obs_date
        end as tga_obs_date,
        rrp_obs_date as on_rrp_obs_date,

        walcl_age_days as fed_total_assets_age_days,
        case
            when dts_value is not null then dts_age_days
            when wdtgal_value is not null then wdtgal_age_days
            when wtregen_value is not null then wtregen_age_days
            else dts_age_days
        end as tga_age_days,
        rrp_age_days as on_rrp_age_days,
        remit_age_days as remittances_age_days,

        coalesce(walcl_is_stale, false) as is_fed_total_assets_stale,
        (
            coalesce(dts_value, wdtgal_value, wtregen_value) is null
            and coalesce(dts_is_stale or wdtgal_is_stale or wtregen_is_stale, false)
        ) as is_tga_stale,
        coalesce(rrp_is_stale, false) as is_on_rrp_stale,
        coalesce(remit_is_stale, false) as is_remittances_stale,
        remit_obs_date is not null as is_remittances_loaded

    from joined

),

net as (

    select
        *,
        fed_total_assets_bn - tga_bn - on_rrp_bn as net_liquidity_bn
    from levels

),

changes as (

    select
        *,
        net_liquidity_bn - remittances_bn as net_liquidity_ex_remittances_bn,
        net_liquidity_bn - lag(net_liquidity_bn, 7) over (order by date)
            as net_liquidity_change_1w_bn,
        net_liquidity_bn - lag(net_liquidity_bn, 28) over (order by date)
            as net_liquidity_change_4w_bn,
        net_liquidity_bn - lag(net_liquidity_bn, 91) over (order by date)
            as net_liquidity_change_13w_bn,
        {{ rolling_zscore('net_liquidity_bn') }} as net_liquidity_z_1y
    from net

),

final as (

    select
        date,
        fed_total_assets_bn,
        tga_bn,
        tga_source,
        on_rrp_bn,
        net_liquidity_bn,
        net_liquidity_change_1w_bn,
        net_liquidity_change_4w_bn,
        net_liquidity_change_13w_bn,
        net_liquidity_z_1y,
        remittances_bn,
        net_liquidity_ex_remittances_bn,
        fed_total_assets_obs_date,
        tga_obs_date,
        on_rrp_obs_date,
        cast(fed_total_assets_age_days as integer) as fed_total_assets_age_days,
        cast(tga_age_days as integer) as tga_age_days,
        cast(on_rrp_age_days as integer) as on_rrp_age_days,
        cast(remittances_age_days as integer) as remittances_age_days,
        is_fed_total_assets_stale,
        is_tga_stale,
        is_on_rrp_stale,
        is_remittances_stale,
        is_remittances_loaded,
        net_liquidity_bn is not null as has_all_inputs
    from changes

)

select * from final
