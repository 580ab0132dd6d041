{#-
    Net liquidity on H.4.1 week dates: one row per WALCL observation (Wednesday level), USD bn.
    Each component is its level ON that Wednesday (by observation date, the H.4.1 convention),
    not what was public on Wednesday; `available_date` is the day the whole row was public
    (the latest publication date of its components; WALCL comes out on Thursday).
      TGA: WDTGAL (Wednesday level) when loaded, else the DTS closing balance of the latest
      statement on or before the Wednesday, else WTREGEN (week average); `tga_source` says which.
      ON RRP: the latest RRPONTSYD observation on or before the Wednesday.
    Components older than their catalog staleness limit on the Wednesday are NULL.
    Changes over 1, 4 and 13 weeks compare with the rows dated exactly 7, 28 and 91 days before.
    z-score over the last var('zscore_window_weeks') rows, needing var('zscore_min_weeks').
-#}

with

observations as (

    select series_id, observation_date, value, published_date, staleness_days
    from {{ ref('int_fred__observations_published') }}
    where series_id in ('WALCL', 'WDTGAL', 'WTREGEN', 'RRPONTSYD', 'RESPPLLOPNWW')

    union all

    select series_id, observation_date, value, published_date, staleness_days
    from {{ ref('int_treasury__observations_published') }}
    where series_id = 'TGA'

),

weeks as (

    select
        observation_date as week_date,
        value as fed_total_assets_bn,
        published_date as fed_total_assets_published_date
    from observations
    where series_id = 'WALCL'

),

components as (

    select
        series_id,
        observation_date,
        value,
        published_date,
        staleness_days
    from observations
    where series_id <> 'WALCL'

),

component_series as (

    select distinct series_id from components

),

component_keys as (

    select
        weeks.week_date,
        component_series.series_id
    from weeks
    cross join component_series

),

component_as_of as (

    select
        component_keys.week_date,
        component_keys.series_id,
        case
            when component_keys.week_date - components.observation_date
                <= components.staleness_days
                then components.value
        end as value,
        components.observation_date,
        components.published_date
    from component_keys
    asof left join components
        on component_keys.series_id = components.series_id
        and component_keys.week_date >= components.observation_date

),

pivoted as (

    select
        week_date,
        max(value) filter (where series_id = 'TGA') as dts_value,
        max(published_date) filter (where series_id = 'TGA') as dts_published_date,
        max(value) filter (where series_id = 'WDTGAL') as wdtgal_value,
        max(published_date) filter (where series_id = 'WDTGAL') as wdtgal_published_date,
        max(value) filter (where series_id = 'WTREGEN') as wtregen_value,
        max(published_date) filter (where series_id = 'WTREGEN') as wtregen_published_date,
        max(value) filter (where series_id = 'RRPONTSYD') as rrp_value,
        max(published_date) filter (where series_id = 'RRPONTSYD') as rrp_published_date,
        max(value) filter (where series_id = 'RESPPLLOPNWW') as remit_value
    from component_as_of
    group by week_date

),

levels as (

    select
        weeks.week_date,
        weeks.fed_total_assets_bn,
        case
            when pivoted.wdtgal_value is not null then 'WDTGAL'
            when pivoted.dts_value is not null then 'DTS'
            when pivoted.wtregen_value is not null then 'WTREGEN'
        end as tga_source,
        coalesce(pivoted.wdtgal_value, pivoted.dts_value, pivoted.wtregen_value) as tga_bn,
        case
            when pivoted.wdtgal_value is not null then pivoted.wdtgal_published_date
            when pivoted.dts_value is not null then pivoted.dts_published_date
            when pivoted.wtregen_value is not null then pivoted.wtregen_published_date
        end as tga_published_date,
        pivoted.rrp_value as on_rrp_bn,
        pivoted.rrp_published_date,
        pivoted.remit_value as remittances_bn,
        weeks.fed_total_assets_published_date
    from weeks
    left join pivoted
        on weeks.week_date = pivoted.week_date

),

net as (

    select
        *,
        fed_total_assets_bn - tga_bn - on_rrp_bn as net_liquidity_bn,
        fed_total_assets_bn - tga_bn - on_rrp_bn - remittances_bn
            as net_liquidity_ex_remittances_bn,
        greatest(fed_total_assets_published_date, tga_published_date, rrp_published_date)
            as available_date
    from levels

),

changes as (

    select
        net.*,
        net.net_liquidity_bn - week_1.net_liquidity_bn as net_liquidity_change_1w_bn,
        net.net_liquidity_bn - week_4.net_liquidity_bn as net_liquidity_change_4w_bn,
        net.net_liquidity_bn - week_13.net_liquidity_bn as net_liquidity_change_13w_bn
    from net
    left join net as week_1
        on week_1.week_date = net.week_date - 7
    left join net as week_4
        on week_4.week_date = net.week_date - 28
    left join net as week_13
        on week_13.week_date = net.week_date - 91

),

final as (

    select
        week_date,
        fed_total_assets_bn,
        tga_bn,
        tga_source,
        on_rrp_bn,
        net_liquidity_bn,
        net_liquidity_change_1w_bn,
        net_liquidity_change_4w_bn,
        net_liquidity_change_13w_bn,
        {{ rolling_zscore_rows('net_liquidity_bn', 'week_date', var('zscore_window_weeks'),
                               var('zscore_min_weeks')) }} as net_liquidity_z_52w,
        remittances_bn,
        net_liquidity_ex_remittances_bn,
        available_date
    from changes

)

select * from final
