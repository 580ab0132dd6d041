{{ config(materialized='table') }}
-- The daily calendar spine: every calendar day from the first publication of any
-- point-in-time series (var pit_daily_series) to the last publication of any of them, capped
-- at today. Weekends and holidays are included; marts narrow it to their own inputs' range.
-- Business days depend on the publisher: see int_publisher_calendars.
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
        cast(date_trunc('quarter', date) as date) as quarter_start_date
    from days

)

select * from calendar
