{#-
    S&P 500 valuation per month: trailing P/E, CAPE and (where supplied) forward P/E, each against
    its own trailing 30-year history, and the Buffett indicator.

    Trailing window: the var valuation_window_months (360) months ending on and including the
    row's month. mean / standard deviation (sample) / z = (value - mean) / sd / percentile =
    100 * share of the window's non-NULL values <= the current value (the current value included,
    so 100 = a 30-year high). Only the past is used (no look-ahead). Statistics are NULL until the
    window holds at least var valuation_min_months (240 = 20 years) non-NULL values, or when the
    month's own value is NULL.
    Robust companion: robust_z = (value - window median) / (1.4826 * window MAD), the median
    absolute deviation scaled to equal the standard deviation for normal data. Read it for the
    trailing P/E: when earnings collapse the P/E explodes (123.7 in May 2009 on Shiller's
    alignment), one such month inflates the window's sd for 30 years and drags the classic z of
    2026 to about 0; the median and MAD ignore it. CAPE's ten-year earnings average has no such
    spikes: its classic z is the one the articles quote.

    Buffett indicator = 100 * market cap / GDP, in percent, both in USD bn
    (int_valuation__buffett_monthly: only a series stored in dollars counts as market cap, by
    default the Fed's Z.1 NCBEILQ027S); NULL with buffett_null_reason when it is not loaded.
-#}
{%- set window_months = var('valuation_window_months', 360) -%}
{%- set min_months = var('valuation_min_months', 240) -%}
{%- set metrics = ['trailing_pe', 'cape', 'forward_pe'] -%}

with

inputs as (

    select * from {{ ref('int_valuation__monthly_inputs') }}

),

buffett as (

    select * from {{ ref('int_valuation__buffett_monthly') }}

),

long as (

    {%- for m in metrics %}
    select month, '{{ m }}' as metric, {{ m }} as value from inputs
    {{ "union all" if not loop.last }}
    {%- endfor %}

),

stats as (

    select
        cur.month,
        cur.metric,
        count(hist.value) as n_months,
        avg(hist.value) as mean_30y,
        stddev_samp(hist.value) as sd_30y,
        100.0 * count(case when hist.value <= cur.value then 1 end) / nullif(count(hist.value), 0)
            as pctile_30y,
        median(hist.value) as median_30y,
        mad(hist.value) as mad_30y
    from long as cur
    inner join long as hist
        on cur.metric = hist.metric
        and hist.month > cur.month - interval {{ window_months }} month
        and cur.month >= hist.month
    where cur.value is not null
    group by cur.month, cur.metric, cur.value

),

gated as (

    select
        month,
        metric,
        case when n_months >= {{ min_months }} then mean_30y end as mean_30y,
        case when n_months >= {{ min_months }} then sd_30y end as sd_30y,
        case when n_months >= {{ min_months }} then pctile_30y end as pctile_30y,
        case when n_months >= {{ min_months }} then median_30y end as median_30y,
        case when n_months >= {{ min_months }} then mad_30y end as mad_30y,
        n_months
    from stats

)

select
    cast(inputs.month as date) as month,
    cast(inputs.available_date as date) as available_date,
    cast(inputs.sp500_price as double) as sp500_price,
    cast(inputs.sp500_earnings_ttm as double) as sp500_earnings_ttm,
    cast(inputs.earnings_month as date) as earnings_month,
    cast(inputs.earnings_published_date as date) as earnings_published_date,
    {%- for m in metrics %}
    cast(inputs.{{ m }} as double) as {{ m }},
    cast({{ m }}_stats.mean_30y as double) as {{ m }}_mean_30y,
    cast({{ m }}_stats.sd_30y as double) as {{ m }}_sd_30y,
    cast(
        (inputs.{{ m }} - {{ m }}_stats.mean_30y) / nullif({{ m }}_stats.sd_30y, 0) as double
    ) as {{ m }}_z_30y,
    cast({{ m }}_stats.pctile_30y as double) as {{ m }}_pctile_30y,
    cast({{ m }}_stats.median_30y as double) as {{ m }}_median_30y,
    cast(
        (inputs.{{ m }} - {{ m }}_stats.median_30y) / nullif(1.4826 * {{ m }}_stats.mad_30y, 0)
        as double
    ) as {{ m }}_robust_z_30y,
    cast(coalesce({{ m }}_stats.n_months, 0) as integer) as {{ m }}_n_months_30y,
    {%- endfor %}
    cast(inputs.is_earnings_stale as boolean) as is_earnings_stale,
    cast(inputs.is_cape_stale as boolean) as is_cape_stale,
    cast(inputs.is_forward_pe_stale as boolean) as is_forward_pe_stale,
    cast(inputs.forward_pe is not null as boolean) as is_forward_pe_supplied,
    cast(
        case when buffett.buffett_null_reason is null
                then 100.0 * buffett.numerator_usd_bn / buffett.denominator_usd_bn
        end as double
    ) as buffett_indicator_pct,
    cast(buffett.numerator_series_id as varchar) as buffett_numerator_series_id,
    cast(buffett.numerator_usd_bn as double) as buffett_numerator_usd_bn,
    cast(buffett.numerator_date as date) as buffett_numerator_date,
    cast(buffett.denominator_series_id as varchar) as buffett_denominator_series_id,
    cast(buffett.denominator_usd_bn as double) as buffett_denominator_usd_bn,
    cast(buffett.denominator_date as date) as buffett_denominator_date,
    cast(buffett.as_of_date as date) as buffett_as_of_date,
    cast(buffett.buffett_null_reason as varchar) as buffett_null_reason
from inputs
left join buffett
    on inputs.month = buffett.month
{%- for m in metrics %}
left join gated as {{ m }}_stats
    on inputs.month = {{ m }}_stats.month
    and {{ m }}_stats.metric = '{{ m }}'
{%- endfor %}
