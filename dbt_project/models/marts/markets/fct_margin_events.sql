{#-
    One row per COMEX margin change (stg_cme__margin_changes) with its move and what the
    underlying did afterwards.

    - Margin: maintenance margin (the history's complete column), previous and new, each with its
      unit; pct_change only when both are in the same unit and the previous one is positive,
      else direction = 'unit_change' (CME's January 2026 switch to % of notional) or
      'series_start' (first row of the history).
    - Underlying: raw_meta.margin_products (GC -> gold LBMA PM fix; SI -> XAGUSD spot, then SLV
      after the spot file ends).
    - Base date: the change takes effect on effective_date (after the previous day's close), so
      forward returns are measured from the close of the last shared trading day on or before
      effective_date to 1, 5, 20 and 60 shared trading days later (int_markets__margin_forward_returns).
-#}
with

changes as (

    select * from {{ ref('stg_cme__margin_changes') }}

),

products as (

    select * from {{ ref('stg_meta__margin_products') }}

),

forward as (

    select * from {{ ref('int_markets__margin_forward_returns') }}

),

moves as (

    select
        changes.*,
        products.underlying_series_id,
        case
            when changes.previous_maintenance_margin is null then 'series_start'
            when changes.previous_unit is distinct from changes.margin_unit then 'unit_change'
            when changes.maintenance_margin > changes.previous_maintenance_margin then 'increase'
            when changes.maintenance_margin < changes.previous_maintenance_margin then 'decrease'
            else 'unchanged'
        end as direction
    from changes
    left join products
        on changes.product = products.product

),

based as (

    select
        moves.*,
        forward.date as base_date,
        forward.series_id as price_series_id,
        forward.close as base_close,
        forward.stored_units as base_close_unit,
        forward.fwd_return_1d,
        forward.fwd_return_5d,
        forward.fwd_return_20d,
        forward.fwd_return_60d,
        forward.max_drawdown_20d
    from moves
    asof left join forward
        on moves.product = forward.product
        and moves.effective_date >= forward.date

)

select
    cast(product as varchar) as product,
    cast(effective_date as date) as effective_date,
    cast(change_number as integer) as change_number,
    cast(underlying_series_id as varchar) as underlying_series_id,
    cast(price_series_id as varchar) as price_series_id,
    cast(previous_maintenance_margin as double) as previous_margin,
    cast(previous_unit as varchar) as previous_margin_unit,
    cast(maintenance_margin as double) as new_margin,
    cast(margin_unit as varchar) as margin_unit,
    cast(initial_margin as double) as initial_margin,
    cast(
        case
            when direction in ('increase', 'decrease', 'unchanged') and previous_maintenance_margin > 0
                then 100.0 * (maintenance_margin / previous_maintenance_margin - 1)
        end as double
    ) as pct_change,
    cast(direction as varchar) as direction,
    cast(direction = 'increase' as boolean) as is_hike,
    cast(base_date as date) as base_date,
    cast(base_close as double) as base_close,
    cast(base_close_unit as varchar) as base_close_unit,
    cast(fwd_return_1d as double) as fwd_return_1d,
    cast(fwd_return_5d as double) as fwd_return_5d,
    cast(fwd_return_20d as double) as fwd_return_20d,
    cast(fwd_return_60d as double) as fwd_return_60d,
    cast(max_drawdown_20d as double) as max_drawdown_20d,
    cast(source_file as varchar) as source_file
from based
