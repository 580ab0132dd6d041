{{ config(severity='warn') }}
-- OFR publishes the index as the sum of its five category contributions (each rounded to three
-- decimals). A day where they do not add up means the file changed meaning (a column renamed or
-- shifted, a category added): warn, as the index is a benchmark and must not block the marts.
with

days as (

    select
        observation_date,
        max(value) filter (where series_id = 'OFR_FSI') as fsi,
        sum(value) filter (where series_id in (
            'OFR_FSI_CREDIT', 'OFR_FSI_EQUITY_VALUATION', 'OFR_FSI_SAFE_ASSETS',
            'OFR_FSI_FUNDING', 'OFR_FSI_VOLATILITY'
        )) as categories,
        count(*) filter (where series_id in (
            'OFR_FSI_CREDIT', 'OFR_FSI_EQUITY_VALUATION', 'OFR_FSI_SAFE_ASSETS',
            'OFR_FSI_FUNDING', 'OFR_FSI_VOLATILITY'
        )) as n_categories
    from {{ ref('stg_ofr__financial_stress_index') }}
    group by observation_date

)

select *
from days
where n_categories = 5 and abs(fsi - categories) > 0.01
