{#-
    Buffett indicator inputs per month, point-in-time at the month's last day (as_of_date).

    Numerator (market cap, USD bn): the first LOADED series of var buffett_numerator_series
    (default [NCBEILQ027S]: the Fed's Z.1 market value of nonfinancial corporate equities,
    converted to USD bn by raw_meta.unit_labels) whose stored unit is usd_bn: an index such as
    the Wilshire 5000 (WILL5000PR, points, not dollars) never counts as dollars. "Loaded" = the
    series has at least one observation; the choice is per warehouse, not per month, so the
    numerator never switches definition mid-history. None loaded: every month is NULL with
    buffett_null_reason = no_market_cap_series_loaded.
    Denominator: GDP (nominal, SAAR, USD bn).

    Point-in-time: a FRED observation counts from its published_date
    (int_fred__observations_published: observation_date + its catalog release lag; GDP: 120
    days after the quarter start ~ the advance estimate). The latest observation published by
    as_of_date is used, if its age (as_of_date - observation_date) is within the catalog
    staleness_days; otherwise NULL, with the reason in buffett_null_reason.
-#}
{%- set numerators = var('buffett_numerator_series', ['NCBEILQ027S']) -%}
{%- set denominator = var('buffett_denominator_series', 'GDP') -%}

with

months as (

    select month, cast(last_day(month) as date) as as_of_date
    from {{ ref('int_valuation__monthly_inputs') }}

),

observations as (

    select series_id, observation_date, value, published_date, staleness_days
    from {{ ref('int_fred__observations_published') }}
    where stored_units = 'usd_bn'
        and series_id in (
            {%- for s in numerators %}'{{ s }}', {% endfor %}'{{ denominator }}'
        )

),

chosen_numerator as (

    select preferences.series_id
    from (
        {%- for s in numerators %}
        select '{{ s }}' as series_id, {{ loop.index }} as preference
        {{ "union all" if not loop.last }}
        {%- endfor %}
    ) as preferences
    where preferences.series_id in (select distinct observations.series_id from observations)
    order by preferences.preference
    limit 1

),

inputs as (

    select
        observations.series_id,
        case
            when observations.series_id = '{{ denominator }}' then 'denominator'
            else 'numerator'
        end as role,
        observations.published_date,
        observations.observation_date,
        observations.value,
        observations.staleness_days
    from observations
    where
        observations.series_id = '{{ denominator }}'
        or observations.series_id in (select chosen_numerator.series_id from chosen_numerator)

),

grid as (

    select months.month, months.as_of_date, roles.role
    from months
    cross join (values ('numerator'), ('denominator')) as roles (role)

),

sampled as (

    select
        grid.month,
        grid.as_of_date,
        grid.role,
        inputs.series_id,
        inputs.observation_date,
        inputs.value,
        datediff('day', inputs.observation_date, grid.as_of_date) as age_days,
        inputs.staleness_days
    from grid
    asof left join inputs
        on grid.role = inputs.role
        and grid.as_of_date >= inputs.published_date

),

wide as (

    select
        month,
        max(as_of_date) as as_of_date,
        max(case when role = 'numerator' then observation_date end) as numerator_date,
        max(case when role = 'numerator' then value end) as numerator_value,
        max(case when role = 'numerator' then age_days end) as numerator_age_days,
        max(case when role = 'numerator' then age_days > staleness_days end) as is_numerator_stale,
        max(case when role = 'denominator' then observation_date end) as denominator_date,
        max(case when role = 'denominator' then value end) as denominator_value,
        max(case when role = 'denominator' then age_days end) as denominator_age_days,
        max(case when role = 'denominator' then age_days > staleness_days end)
            as is_denominator_stale
    from sampled
    group by month

)

select
    wide.month,
    wide.as_of_date,
    (select chosen_numerator.series_id from chosen_numerator) as numerator_series_id,
    case when not wide.is_numerator_stale then wide.numerator_value end as numerator_usd_bn,
    wide.numerator_date,
    wide.numerator_age_days,
    '{{ denominator }}' as denominator_series_id,
    case when not wide.is_denominator_stale then wide.denominator_value end as denominator_usd_bn,
    wide.denominator_date,
    wide.denominator_age_days,
    case
        when (select count(*) from chosen_numerator) = 0 then 'no_market_cap_series_loaded'
        when wide.numerator_date is null then 'numerator_not_yet_available'
        when wide.is_numerator_stale then 'numerator_stale'
        when wide.denominator_date is null then 'denominator_not_yet_available'
        when wide.is_denominator_stale then 'denominator_stale'
        when wide.denominator_value <= 0 then 'denominator_not_positive'
    end as buffett_null_reason
from wide
