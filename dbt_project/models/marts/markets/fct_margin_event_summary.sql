{#-
    Forward returns of each product's underlying after margin changes, against all days.

    event_group:
      all_days       every shared trading day from the product's first margin change to the end
                     of the price history (the unconditional baseline)
      hike           every margin increase (CME has changed metals margins daily since
                     2026-01-13, so this includes many small moves)
      large_hike     increases of at least var margin_large_hike_pct percent (default 10)
      cut            every margin decrease
    Forward returns overlap for events closer together than the horizon, so the events of one
    group are not independent observations.
-#}
{%- set large_hike = var('margin_large_hike_pct', 10) -%}

with

events as (

    select * from {{ ref('fct_margin_events') }}

),

forward as (

    select * from {{ ref('int_markets__margin_forward_returns') }}

),

first_event as (

    select product, min(effective_date) as first_effective_date
    from events
    group by product

),

samples as (

    select
        forward.product,
        'all_days' as event_group,
        forward.date as base_date,
        forward.fwd_return_1d,
        forward.fwd_return_5d,
        forward.fwd_return_20d,
        forward.fwd_return_60d,
        forward.max_drawdown_20d
    from forward
    inner join first_event
        on forward.product = first_event.product
        and forward.date >= first_event.first_effective_date

    union all

    select
        product,
        event_group,
        base_date,
        fwd_return_1d,
        fwd_return_5d,
        fwd_return_20d,
        fwd_return_60d,
        max_drawdown_20d
    from events
    cross join (values ('hike'), ('large_hike'), ('cut')) as groups (event_group)
    where (event_group = 'hike' and direction = 'increase')
        or (event_group = 'large_hike' and direction = 'increase' and pct_change >= {{ large_hike }})
        or (event_group = 'cut' and direction = 'decrease')

),

summary as (

    select
        product,
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
    group by product, event_group

),

baseline as (

    select product, avg_fwd_return_5d, avg_fwd_return_20d
    from summary
    where event_group = 'all_days'

)

select
    cast(summary.product as varchar) as product,
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
