{{ config(materialized='table') }}
-- The daily calendar spine: every calendar day from the first publication of any
-- point-in-time series (var pit_daily_series) to the last publication of any of them, capped
-- at today. Weekends are included (flagged); marts narrow it to their own inputs' range.
with

bounds as {{ series_date_range(var('pit_daily_series')) }},

days as (

    select cast(unnest(generate_series(min_date, max_date, interval 1 day)) as date) as date
    from bounds
    where min_date is not null

),

calendar as (

    select
        date,
        isodow(date) as iso_day_of_week,
        isodow(date) <= 5 as is_business_day,
        -- the last Mon-Fri day of the calendar quarter (US holidays not modelled)
        date = (
            last_day(date_trunc('quarter', date) + interval 2 month)
            - cast(greatest(isodow(last_day(date_trunc('quarter', date) + interval 2 month)) - 5, 0)
                as integer)
        ) as is_quarter_end_business_day,
        cast(date_trunc('quarter', date) as date) as quarter_start_date
    from days

)

select * from calendar
