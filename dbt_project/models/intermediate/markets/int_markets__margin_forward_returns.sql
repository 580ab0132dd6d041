{#-
    Forward returns of each COMEX product's underlying from every shared trading day D:
    fwd_return_Nd = close(D+N) / close(D) - 1 over the next N shared trading days, compounded from
    the daily returns of int_markets__composite_daily (product of 1 + return) (so the XAGUSD -> SLV switch for silver is
    chained, never a ratio of two different series). NULL unless all N daily returns exist
    (stale input, or the history ends before D+N).
    max_drawdown_20d = min(0, lowest chained close over D+1..D+20 / close(D) - 1): the worst mark-to-market
    loss from the base close within 20 trading days (NULL unless all 20 returns exist).
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
        1 + return_1d as growth
    from {{ ref('int_markets__composite_daily') }}
    where composite_kind = 'margin_product'

),

cumulative as (

    select
        *,
        product(coalesce(growth, 1)) over (
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
    {%- for n in horizons %}
    case
        when count(growth) over (
            partition by product order by date rows between 1 following and {{ n }} following
        ) = {{ n }}
        then product(growth) over (
            partition by product order by date rows between 1 following and {{ n }} following
        ) - 1
    end as fwd_return_{{ n }}d,
    {%- endfor %}
    case
        when count(growth) over (
            partition by product order by date rows between 1 following and 20 following
        ) = 20
        then least(0, min(chained_index) over (
            partition by product order by date rows between 1 following and 20 following
        ) / chained_index - 1)
    end as max_drawdown_20d
from cumulative
