{#-
    Cross-asset regime per shared trading day (from var correlation_start_date, 2000-01-01).

    Basket = int_markets__asset_map.in_regime_basket: sp500, gold, silver, wti, btc, eth (one
    equity index, so Nasdaq / Dow do not triple-count equities).

    - avg_pairwise_correlation_{20,60}d: mean of the basket's pairwise correlations available that
      day (fct_cross_asset_correlation_daily).
    - equity_gold_correlation_*: corr(sp500, gold).
    - equity_bond_price_correlation_*: corr(sp500 return, Treasury PRICE move) = corr(sp500
      return, minus the 10-year yield change) = -equity_bond_correlation_*. The same as against a
      constant-duration price return (-D x yield change): correlation ignores the scale.
      POSITIVE = stocks and Treasury prices move together (bonds fail as a hedge); NEGATIVE =
      Treasuries rally when stocks fall (bonds hedge).
    - equity_bond_correlation_* (kept for existing dashboards): corr(sp500 return, 10-year YIELD
      change), the opposite sign: POSITIVE = Treasuries hedge.
    - share_assets_down = basket assets with return_1d < 0 / basket assets with a return that day.
      Returns are real only (fct_asset_returns_daily: NULL on a carried close), and
      n_assets_tracked / n_havens_tracked say how many assets each figure was computed on.
    - is_synchronized_selloff: the S&P 500 falls by at least var selloff_equity_drop (1 %) AND at
      least var selloff_min_share_down (75 %) of the basket is down, judged only when at least
      var selloff_min_assets (4) basket assets have a return that day.
    - is_hedge_failure: the S&P 500 falls by at least selloff_equity_drop AND a majority
      (more than half) of the havens with a return that day lose value: gold falls, the 10-year
      yield rises (Treasury prices fall), USD/JPY rises (the yen weakens); judged only when at
      least 2 havens have a return.
    A flag is NULL when it cannot be judged: the S&P 500 has no return that day, or (S&P down
    at least 1 %) too few basket assets / havens have a real return.
-#}
{%- set start_date = var('correlation_start_date', '2000-01-01') -%}
{%- set equity_drop = var('selloff_equity_drop', 0.01) -%}
{%- set min_share_down = var('selloff_min_share_down', 0.75) -%}
{%- set min_assets = var('selloff_min_assets', 4) -%}
{%- set equity_asset = var('regime_equity_asset', 'sp500') -%}

with

assets as (

    select asset, in_regime_basket, haven_loss_sign
    from {{ ref('int_markets__asset_map') }}

),

returns as (

    select date, asset, return_1d
    from {{ ref('fct_asset_returns_daily') }}
    where date >= cast('{{ start_date }}' as date)

),

correlations as (

    select
        date,
        asset_a,
        asset_b,
        window_days,
        correlation,
        -- the equity index against gold / the 10-year (pairs are stored alphabetically)
        case
            when least(asset_a, asset_b) = least('{{ equity_asset }}', 'gold')
                and greatest(asset_a, asset_b) = greatest('{{ equity_asset }}', 'gold')
                then 'equity_gold'
            when least(asset_a, asset_b) = least('{{ equity_asset }}', 'us10y')
                and greatest(asset_a, asset_b) = greatest('{{ equity_asset }}', 'us10y')
                then 'equity_bond'
        end as pair
    from {{ ref('fct_cross_asset_correlation_daily') }}
    where date >= cast('{{ start_date }}' as date)

),

calendar as (

    select distinct date from returns
    where asset = '{{ equity_asset }}'

),

moves as (

    select
        returns.date,
        max(case when returns.asset = '{{ equity_asset }}' then returns.return_1d end)
            as equity_return_1d,
        count(case when assets.in_regime_basket then returns.return_1d end) as n_assets_tracked,
        count(case when assets.in_regime_basket and returns.return_1d < 0 then 1 end)
            as n_assets_down,
        count(case when assets.haven_loss_sign is not null then returns.return_1d end)
            as n_havens_tracked,
        count(case when returns.return_1d * assets.haven_loss_sign > 0 then 1 end)
            as n_havens_losing
    from returns
    inner join assets
        on returns.asset = assets.asset
    group by returns.date

),

pair_stats as (

    select
        correlations.date,
        avg(correlations.correlation) filter (
            where a.in_regime_basket and b.in_regime_basket and correlations.window_days = 20
        ) as avg_pairwise_correlation_20d,
        avg(correlations.correlation) filter (
            where a.in_regime_basket and b.in_regime_basket and correlations.window_days = 60
        ) as avg_pairwise_correlation_60d,
        count(correlations.correlation) filter (
            where a.in_regime_basket and b.in_regime_basket and correlations.window_days = 20
        ) as n_pairs_20d,
        max(correlations.correlation) filter (
            where correlations.pair = 'equity_gold' and correlations.window_days = 20
        ) as equity_gold_correlation_20d,
        max(correlations.correlation) filter (
            where correlations.pair = 'equity_gold' and correlations.window_days = 60
        ) as equity_gold_correlation_60d,
        max(correlations.correlation) filter (
            where correlations.pair = 'equity_bond' and correlations.window_days = 20
        ) as equity_bond_correlation_20d,
        max(correlations.correlation) filter (
            where correlations.pair = 'equity_bond' and correlations.window_days = 60
        ) as equity_bond_correlation_60d
    from correlations
    inner join assets as a
        on correlations.asset_a = a.asset
    inner join assets as b
        on correlations.asset_b = b.asset
    group by correlations.date

),

flagged as (

    select
        calendar.date,
        moves.equity_return_1d,
        pair_stats.avg_pairwise_correlation_20d,
        pair_stats.avg_pairwise_correlation_60d,
        coalesce(pair_stats.n_pairs_20d, 0) as n_pairs_20d,
        pair_stats.equity_gold_correlation_20d,
        pair_stats.equity_gold_correlation_60d,
        pair_stats.equity_bond_correlation_20d,
        pair_stats.equity_bond_correlation_60d,
        coalesce(moves.n_assets_tracked, 0) as n_assets_tracked,
        coalesce(moves.n_assets_down, 0) as n_assets_down,
        moves.n_assets_down / nullif(moves.n_assets_tracked, 0) as share_assets_down,
        coalesce(moves.n_havens_tracked, 0) as n_havens_tracked,
        coalesce(moves.n_havens_losing, 0) as n_havens_losing
    from calendar
    left join moves
        on calendar.date = moves.date
    left join pair_stats
        on calendar.date = pair_stats.date

)

select
    cast(date as date) as date,
    cast(equity_return_1d as double) as equity_return_1d,
    cast(avg_pairwise_correlation_20d as double) as avg_pairwise_correlation_20d,
    cast(avg_pairwise_correlation_60d as double) as avg_pairwise_correlation_60d,
    cast(n_pairs_20d as integer) as n_pairs_20d,
    cast(equity_gold_correlation_20d as double) as equity_gold_correlation_20d,
    cast(equity_gold_correlation_60d as double) as equity_gold_correlation_60d,
    cast(-equity_bond_correlation_20d as double) as equity_bond_price_correlation_20d,
    cast(-equity_bond_correlation_60d as double) as equity_bond_price_correlation_60d,
    cast(equity_bond_correlation_20d as double) as equity_bond_correlation_20d,
    cast(equity_bond_correlation_60d as double) as equity_bond_correlation_60d,
    cast(n_assets_tracked as integer) as n_assets_tracked,
    cast(n_assets_down as integer) as n_assets_down,
    cast(share_assets_down as double) as share_assets_down,
    cast(n_havens_tracked as integer) as n_havens_tracked,
    cast(n_havens_losing as integer) as n_havens_losing,
    cast(
        case
            when equity_return_1d is null then null
            when equity_return_1d > -{{ equity_drop }} then false
            when n_assets_tracked >= {{ min_assets }}
                then share_assets_down >= {{ min_share_down }}
        end as boolean
    ) as is_synchronized_selloff,
    cast(
        case
            when equity_return_1d is null then null
            when equity_return_1d > -{{ equity_drop }} then false
            when n_havens_tracked >= 2 then n_havens_losing * 2 > n_havens_tracked
        end as boolean
    ) as is_hedge_failure
from flagged
