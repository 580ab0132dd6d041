-- One row per loaded series: first and last observation and publication dates. Marts take
-- their date range from here (start where their inputs start, stop at the last date any input
-- covers). An optional series that is not loaded has no row.
with

published as (

    select * from {{ ref('int_series_observations_published') }}

),

coverage as (

    select
        series_id,
        count(*) as n_observations,
        min(observation_date) as first_observation_date,
        max(observation_date) as last_observation_date,
        min(published_date) as first_published_date,
        max(published_date) as last_published_date
    from published
    group by series_id

)

select * from coverage
