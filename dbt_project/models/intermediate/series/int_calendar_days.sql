{{ config(materialized='table') }}
-- The daily calendar spine: every calendar day the publisher calendars cover (raw_meta.calendars,
-- from 1900), up to today. It depends on no source, so the as-of models of one source never pull
-- in another's lineage; each as-of series starts at its own first publication, and marts narrow
-- the spine to their own inputs' range (macro series_date_range). Weekends and holidays are
-- included; business days depend on the publisher: see int_publisher_calendars.
with

bounds as (

    select
        min(first_date) as min_date,
        least(max(last_date), {{ warehouse_today() }}) as max_date
    from {{ ref('stg_meta__calendars') }}

),

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
