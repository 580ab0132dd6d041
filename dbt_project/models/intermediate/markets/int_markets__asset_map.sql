{#-
    The assets of the cross-asset marts and the catalog series behind each (configuration, not
    data). An asset uses its primary series from the day after the primary's first observation
    through its last observation, and the proxy outside that span (see int_markets__composite_daily),
    so exactly one series feeds an asset on any date: no double counting.

      return_kind    simple  = close / previous close - 1 (ratio)
                     change  = close - previous close, in the close's unit (us10y: percentage points)
      in_regime_basket  counted in share_assets_down and the average pairwise correlation of
                        fct_cross_asset_regime_daily: one equity index (the S&P 500; Nasdaq and the
                        Dow would triple-count equities), gold, silver, WTI, bitcoin, ether.
      haven_loss_sign   havens for the hedge-failure flag; a haven LOSES value on a day when
                        sign(return_1d) = haven_loss_sign: gold falls (-1), the 10-year yield rises
                        (+1, Treasury prices fall), USD/JPY rises (+1, the yen weakens).

    var extra_assets (default []): more assets appended to the ten, each a mapping with every
    column below (proxy_series_id and haven_loss_sign may be null). bench/scale.py uses it for
    the scale benchmark's synthetic assets; the extra rows are cast to the VALUES rows' types.
-#}
{%- set columns = [
    ('asset', 'varchar'), ('asset_name', 'varchar'), ('asset_class', 'varchar'),
    ('primary_series_id', 'varchar'), ('proxy_series_id', 'varchar'), ('return_kind', 'varchar'),
    ('in_regime_basket', 'boolean'), ('haven_loss_sign', 'integer'), ('sort_order', 'integer')
] -%}
{%- set extra_assets = var('extra_assets', []) -%}
-- noqa: disable=LT01,LT02,LT05
-- (the asset rows are aligned as a table)
select * from (
    values
        ('sp500',  'S&P 500',                             'equity',    'SPX',            null,       'simple', true,  null, 1),
        ('nasdaq', 'Nasdaq Composite',                    'equity',    'NASDAQCOM',      null,       'simple', false, null, 2),
        ('dow',    'Dow Jones Industrial Average (or DIA)', 'equity',   'DJIA',           'DIA',      'simple', false, null, 3),
        ('gold',   'Gold, LBMA PM fix',                   'metal',     'XAUUSD_LBMA_PM', null,       'simple', true,  -1,   4),
        ('silver', 'Silver spot (SLV after spot ends)',   'metal',     'XAGUSD',         'SLV',      'simple', true,  null, 5),
        ('wti',    'WTI crude, Cushing spot',             'energy',    'DCOILWTICO',     null,       'simple', true,  null, 6),
        ('btc',    'Bitcoin',                             'crypto',    'BTC-USD',        null,       'simple', true,  null, 7),
        ('eth',    'Ether',                               'crypto',    'ETH-USD',        null,       'simple', true,  null, 8),
        ('us10y',  'US 10-year Treasury yield',           'rates',     'DGS10',          null,       'change', false, 1,    9),
        ('usdjpy', 'USD/JPY',                             'fx',        'USDJPY',         'DEXJPUS',  'simple', false, 1,    10)
) as assets (  -- noqa: AL05
    asset,
    asset_name,
    asset_class,
    primary_series_id,
    proxy_series_id,
    return_kind,
    in_regime_basket,
    haven_loss_sign,
    sort_order
)
-- noqa: enable=LT01,LT02,LT05
{%- for extra in extra_assets %}
{%- set position = loop.index %}
{%- for column, _ in columns if extra is not mapping or column not in extra %}
    {{ exceptions.raise_compiler_error(
        "var extra_assets: entry " ~ position ~ " (" ~ extra ~ ") lacks " ~ column
    ) }}
{%- endfor %}
union all
select
    {%- for column, type in columns %}
    {%- set value = extra[column] %}
    {%- if value is none %}{% set literal = 'null' %}
    {%- elif type == 'varchar' %}{% set literal = "'" ~ (value | string | replace("'", "''")) ~ "'" %}
    {%- elif type == 'boolean' %}
        {%- set literal = 'true' if value | string | lower in ('true', '1') else 'false' %}
    {%- else %}{% set literal = value | int %}
    {%- endif %}
    cast({{ literal }} as {{ type }}) as {{ column }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endfor %}
