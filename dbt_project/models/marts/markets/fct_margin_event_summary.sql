{#-
    Forward returns of each product's underlying after margin changes against all days, like
    with like: per margin regime (fct_margin_events.margin_regime), so the daily mechanical resets
    of the percentage-of-notional regime are never pooled with the fixed-USD decisions before it.

    Grain: product x margin_regime x change_kind x event_group.
      event_group  all_days     every shared trading day of the regime with a price struck that
                                day (the baseline: same base-price rule as the events) after the
                                product's first margin change; a day after the product's first
                                pct_of_notional change belongs to that regime
                   hike         increases
                   large_hike   increases of at least var margin_large_hike_pct percent (10)
                   cut          decreases
      change_kind  policy | mechanical (fct_margin_events.change_kind), or any = every event of
                   the group whatever its kind (unclassified ones included); all_days is 'any'.
    excess_* = the group's mean minus the all_days mean of the same product and regime.
    Forward returns overlap for events closer together than the horizon (the daily resets are
    one trading day apart), so the events of a group are not independent observations.
-#}
{%- set large_hike = var('margin_large_hike_pct', 10) -%}

with

events as (

    select * from {{ ref('fct_margin_events') }}
    where direction in ('increase', 'decrease')

),

forward as (

    select * from {{ ref('int_markets__margin_forward_returns') }}
    where not is_carried and close is not null

),

bounds as (

    -- The regime boundary as the events record it: the product's first pct_of_notional change.
    select
        product,
        min(effective_date) as first_effective_date,
        min(effective_date) filter (where margin_regime = 'pct_of_notional')
            as pct_notional_since
    from {{ ref('fct_margin_events') }}
    group by product

),

days as (

    select
        forward.product,
        case
            when forward.date > bounds.pct_notional_since then 'pct_of_notional'
            else 'fixed_usd'
        end as margin_regime,
        forward.date as base_date,
        forward.fwd_return_1d,
        forward.fwd_return_5d,
        forward.fwd_return_20d,
        forward.fwd_return_60d,
        forward.max_drawdown_20d
    from forward
    inner join bounds
        on forward.product = bounds.product
        and forward.date > bounds.first_effective_date

),

samples as (

    select
        product,
        margin_regime,
        'any' as change_kind,
        'all_days' as event_group,
        base_date,
        fwd_return_1d,
        fwd_return_5d,
        fwd_return_20d,
        fwd_return_60d,
        max_drawdown_20d
    from days

    union all

    select
        events.product,
        events.margin_regime,
        kinds.change_kind,
        groups.event_group,
        events.base_date,
        events.fwd_return_1d,
        events.fwd_return_5d,
        events.fwd_return_20d,
        events.fwd_return_60d,
        events.max_drawdown_20d
    from events
    cross join (values ('hike'), ('large_hike'), ('cut')) as groups (event_group)
    cross join (values ('any'), ('policy'), ('mechanical')) as kinds (change_kind)
    where (kinds.change_kind = 'any' or kinds.change_kind = events.change_kind)
        and (
            (groups.event_group = 'hike' and events.direction = 'increase')
            or (
                groups.event_group = 'large_hike' and events.direction = 'increase'
                and events.pct_change >= {{ large_hike }}
            )
            or (groups.event_group = 'cut' and events.direction = 'decrease')
        )

),

summary as (

    select
        product,
        margin_regime,
        change_kind,
        event_group,
        count(*) as n_events,
        count(fwd_return_20d) as n_with_fwd_return_20d,
        min(base_date) as first_base_date,
        max(base_date) as last_base_date,
        avg(fwd_return_1d) as avg_fwd_return_1d,
        avg(fwd_return_5d) as avg_fwd_return_5d,
        avg(fwd_return_20d) as avg_fwd_return_20d,
        avg(fwd_return_60d) as avg_fwd_return_60d,
        median(fwd_return_20d) as median_fwd_return_20d,
        avg(case when fwd_return_20d < 0 then 1.0 when fwd_return_20d >= 0 then 0.0 end)
            as share_negative_fwd_return_20d,
        avg(max_drawdown_20d) as avg_max_drawdown_20d
    from samples
    group by product, margin_regime, change_kind, event_group

),

baseline as (

    select product, margin_regime, avg_fwd_return_5d, avg_fwd_return_20d
    from summary
    where event_group = 'all_days'

)

select
    cast(summary.product as varchar) as product,
    cast(summary.margin_regime as varchar) as margin_regime,
    cast(summary.change_kind as varchar) as change_kind,
    cast(summary.event_group as varchar) as event_group,
    cast(summary.n_events as integer) as n_events,
    cast(summary.n_with_fwd_return_20d as integer) as n_with_fwd_return_20d,
    cast(summary.first_base_date as date) as first_base_date,
    cast(summary.last_base_date as date) as last_base_date,
    cast(summary.avg_fwd_return_1d as double) as avg_fwd_return_1d,
    cast(summary.avg_fwd_return_5d as double) as avg_fwd_return_5d,
    cast(summary.avg_fwd_return_20d as double) as avg_fwd_return_20d,
    cast(summary.avg_fwd_return_60d as double) as avg_fwd_return_60d,
    cast(summary.median_fwd_return_20d as double) as median_fwd_return_20d,
    cast(summary.share_negative_fwd_return_20d as double) as share_negative_fwd_return_20d,
    cast(summary.avg_max_drawdown_20d as double) as avg_max_drawdown_20d,
    cast(summary.avg_fwd_return_5d - baseline.avg_fwd_return_5d as double)
        as excess_avg_fwd_return_5d_vs_all_days,
    cast(summary.avg_fwd_return_20d - baseline.avg_fwd_return_20d as double)
        as excess_avg_fwd_return_20d_vs_all_days
from summary
left join baseline
    on summary.product = baseline.product
    and summary.margin_regime = baseline.margin_regime
