-- Every observation of every series in one long table, in stored units: FRED, the Treasury
-- DTS, MOF JGB yields, Shiller's monthly workbook, user drops and market closes (value =
-- close). Grain: series x date.
with

fred as (

    select series_id, observation_date, value, stored_units, 'fred' as source_system
    from {{ ref('stg_fred__observations') }}

),

treasury as (

    select series_id, observation_date, value, stored_units, 'treasury' as source_system
    from {{ ref('stg_treasury__operating_cash_balance') }}

),

mof as (

    select series_id, observation_date, value, stored_units, 'mof' as source_system
    from {{ ref('stg_mof__jgb_yields') }}

),

shiller as (

    select series_id, observation_date, value, stored_units, 'shiller' as source_system
    from {{ ref('stg_shiller__monthly') }}

),

drops as (

    select series_id, observation_date, value, stored_units, 'drops' as source_system
    from {{ ref('stg_drops__observations') }}

),

markets as (

    select
        series_id,
        observation_date,
        close as value,
        stored_units,
        'markets' as source_system
    from {{ ref('stg_markets__daily_bars') }}

),

unioned as (

    select * from fred
    union all
    select * from treasury
    union all
    select * from mof
    union all
    select * from shiller
    union all
    select * from drops
    union all
    select * from markets

)

select * from unioned
