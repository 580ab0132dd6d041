{#-
    Forward returns of each COMEX product's underlying from every shared trading day D:
    fwd_return_Nd = close(D+N) / close(D) - 1 over the next N shared trading days, compounded from
    the daily returns of int_markets__composite_daily (product of 1 + return) (so the XAGUSD -> SLV
    switch for silver is chained, never a ratio of two different series). A day without a return
    of its own (a carried close: no price struck that day) counts as no move; the next real
    observation's return spans the gap. NULL unless D and all N following days have a close
    (a stale input has none), i.e. also when the history ends before D+N.
    max_drawdown_20d = min(0, lowest chained close over D+1..D+20 / close(D) - 1): the worst
    mark-to-market loss from the base close within 20 trading days (NULL like fwd_return_20d).
    price_index = the chained close (product of 1 + return_1d from the product's first day, a
    missing return counting as no move): the ratio of two days' price_index is the underlying's
    move between them, across the XAGUSD -> SLV switch too. is_carried: D's close is an earlier
    observation carried onto D (no price of the underlying was struck on D).
-#}
{%- set horizons = [1, 5, 20, 60] -%}

with

daily as (

    select
        composite_key as product,
        date,
        series_id,
        close,
        stored_units,
        return_1d,
        is_carried,
        coalesce(1 + return_1d, 1) as growth
    from {{ ref('int_markets__composite_daily') }}
    where composite_kind = 'margin_product'

),

cumulative as (

    select
        *,
        product(growth) over (
            partition by product order by date rows between unbounded preceding and current row
        ) as chained_index
    from daily

)

select
    product,
    date,
    series_id,
    close,
    stored_units,
    return_1d,
    is_carried,
    chained_index as price_index,
    {%- for n in horizons %}
    case
        when close is not null and count(close) over (
                partition by product order by date rows between 1 following and {{ n }} following
            ) = {{ n }}
            then product(growth) over (
                    partition by product
                    order by date rows between 1 following and {{ n }} following
                ) - 1
    end as fwd_return_{{ n }}d,
    {%- endfor %}
    case
        when close is not null and count(close) over (
                partition by product order by date rows between 1 following and 20 following
            ) = 20
            then least(0, min(chained_index) over (
                    partition by product order by date rows between 1 following and 20 following
                ) / chained_index - 1)
    end as max_drawdown_20d
from cumulative
