{#-
    fct_cross_asset_regime_daily reads, over its whole range, the correlations of every pair of
    basket assets and of the equity index with gold and with the 10-year. When var
    correlation_history_pairs lists the pairs that keep their history, these must be among them:
    otherwise the regime's older averages would silently lose pairs. Returns the missing pairs.
-#}
{%- set history = correlation_settings().history_pairs -%}
{%- set equity = var('regime_equity_asset', 'sp500') -%}

with

assets as (

    select asset, in_regime_basket
    from {{ ref('int_markets__asset_map') }}

),

needed as (

    select
        a.asset as asset_a,
        b.asset as asset_b
    from assets as a
    inner join assets as b
        on a.asset < b.asset
    where
        (a.in_regime_basket and b.in_regime_basket)
        or (
            '{{ equity }}' in (a.asset, b.asset)
            and (a.asset in ('gold', 'us10y') or b.asset in ('gold', 'us10y'))
        )

)

select asset_a, asset_b
from needed
{% if history is none -%}
where false
{%- else -%}
where asset_a || '|' || asset_b not in (
    {%- for p in history %}'{{ p }}'{{ ", " if not loop.last }}{% endfor -%}
)
{%- endif %}
