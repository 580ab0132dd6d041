{#-
    One row per COMEX margin change (stg_cme__margin_changes) with its move, its regime and kind,
    and what the underlying did afterwards.

    - Margin: maintenance margin (the history's complete column), previous and new, each with its
      unit; pct_change only when both are in the same unit and the previous one is positive,
      else direction = 'unit_change' or 'series_start' (first row of the history).
    - Regime: CME set metals margins as a fixed USD amount per contract until it moved them to a
      percentage of notional (var margin_pct_notional_since: product -> first day, GC and SI
      2026-01-13); from then on the dollar amount is recalculated every day from the settlement
      price. margin_regime = 'pct_of_notional' from that day (or for any row recorded in
      pct_notional), else 'fixed_usd'.
    - Kind: a change is a 'policy' decision or a 'mechanical' recalibration.
        fixed_usd regime                       policy (each new amount was a CME decision)
        the first row after the switch         policy (the switch itself)
        pct_of_notional, recorded in percent   policy (the percentage itself changed)
        pct_of_notional, recorded in USD       compare the margin's move with the price's since
                                               the previous change: implied_rate_log_change =
                                               ln(new / previous margin) - ln(price index on
                                               effective_date / on the previous effective_date);
                                               |.| >= var margin_policy_min_rate_change (0.10)
                                               -> policy (CME changed the percentage), smaller ->
                                               mechanical, no price -> unclassified
      The price that set a daily reset is the settlement of effective_date itself, so the price
      index is read on (as of) effective_date. On the snapshot the mechanical resets move the
      implied rate by a median 0.6 % (GC) / 1.2 % (SI); the rate decisions (e.g. GC 2026-02-02,
      +31 % with gold falling) by 10 % to 35 %.
    - Base price: CME margin changes take effect after the close of business on effective_date,
      so the base of the forward returns is the first price of the underlying OBSERVED after
      that: the first shared trading day after effective_date whose close was struck that day
      (not carried). Per underlying (raw_meta.margin_products): GC -> gold LBMA PM fix, set at
      15:00 London (10:00 New York), before the COMEX settlement of effective_date that drove
      the change, so the fix of the next London trading day; SI -> XAGUSD spot, then SLV (NYSE
      close 16:00 New York, still before the close of business that applies the new margin),
      so the next trading day's close. Forward returns run over the next 1, 5, 20 and 60 shared
      trading days from base_date (int_markets__margin_forward_returns).
-#}
{%- set pct_since = var('margin_pct_notional_since', {'GC': '2026-01-13', 'SI': '2026-01-13'}) -%}
{%- set min_rate_change = var('margin_policy_min_rate_change', 0.10) -%}

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

observed as (

    select * from forward
    where not is_carried and close is not null

),

regime_start as (

    select product, cast(since as date) as pct_notional_since
    from (
        values
        {%- for product, since in pct_since.items() %}
        ('{{ product }}', '{{ since }}'){{ "," if not loop.last }}
        {%- endfor %}
        {%- if not pct_since %}(null, null){% endif %}
    ) as starts (product, since)  -- noqa: AL05

),

moves as (

    select
        changes.*,
        products.underlying_series_id,
        case
            when changes.margin_unit = 'pct_notional'
                or changes.effective_date >= regime_start.pct_notional_since
                then 'pct_of_notional'
            else 'fixed_usd'
        end as margin_regime,
        case
            when changes.previous_maintenance_margin is null then 'series_start'
            -- null-safe "is distinct from" (which sqlfluff's DuckDB dialect cannot parse)
            when
                coalesce(
                    changes.previous_unit <> changes.margin_unit,
                    (changes.previous_unit is null) <> (changes.margin_unit is null)
                )
                then 'unit_change'
            when changes.maintenance_margin > changes.previous_maintenance_margin then 'increase'
            when changes.maintenance_margin < changes.previous_maintenance_margin then 'decrease'
            else 'unchanged'
        end as direction
    from changes
    left join products
        on changes.product = products.product
    left join regime_start
        on changes.product = regime_start.product

),

priced as (

    select
        moves.*,
        lag(moves.margin_regime) over (
            partition by moves.product order by moves.effective_date
        ) as previous_regime,
        on_effective.price_index as price_index_on_effective_date,
        on_previous.price_index as price_index_on_previous_date
    from moves
    asof left join observed as on_effective
        on moves.product = on_effective.product
        and moves.effective_date >= on_effective.date
    asof left join observed as on_previous
        on moves.product = on_previous.product
        and moves.previous_effective_date >= on_previous.date

),

classified as (

    select
        *,
        case
            when margin_unit = previous_unit
                and maintenance_margin > 0 and previous_maintenance_margin > 0
                and price_index_on_effective_date > 0 and price_index_on_previous_date > 0
                then ln(maintenance_margin / previous_maintenance_margin)
                    - ln(price_index_on_effective_date / price_index_on_previous_date)
        end as implied_rate_log_change
    from priced

),

kinds as (

    select
        *,
        case
            when direction = 'series_start' then null
            when margin_regime = 'fixed_usd' then 'policy'
            when coalesce(previous_regime <> 'pct_of_notional', true)
                or direction = 'unit_change' then 'policy'
            when margin_unit = 'pct_notional' then 'policy'
            when implied_rate_log_change is null then 'unclassified'
            when abs(implied_rate_log_change) >= {{ min_rate_change }} then 'policy'
            else 'mechanical'
        end as change_kind
    from classified

),

based as (

    select
        kinds.*,
        observed.date as base_date,
        observed.series_id as price_series_id,
        observed.close as base_close,
        observed.stored_units as base_close_unit,
        observed.fwd_return_1d,
        observed.fwd_return_5d,
        observed.fwd_return_20d,
        observed.fwd_return_60d,
        observed.max_drawdown_20d
    from kinds
    asof left join observed
        on kinds.product = observed.product
        and kinds.effective_date < observed.date

)

select
    cast(product as varchar) as product,
    cast(effective_date as date) as effective_date,
    cast(change_number as integer) as change_number,
    cast(margin_regime as varchar) as margin_regime,
    cast(change_kind as varchar) as change_kind,
    cast(underlying_series_id as varchar) as underlying_series_id,
    cast(price_series_id as varchar) as price_series_id,
    cast(previous_maintenance_margin as double) as previous_margin,
    cast(previous_unit as varchar) as previous_margin_unit,
    cast(maintenance_margin as double) as new_margin,
    cast(margin_unit as varchar) as margin_unit,
    cast(initial_margin as double) as initial_margin,
    cast(
        case
            when direction in ('increase', 'decrease', 'unchanged')
                and previous_maintenance_margin > 0
                then 100.0 * (maintenance_margin / previous_maintenance_margin - 1)
        end as double
    ) as pct_change,
    cast(implied_rate_log_change as double) as implied_rate_log_change,
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
