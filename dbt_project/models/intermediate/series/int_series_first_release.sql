{#-
    First releases: for every observation of a series whose publication FRED dates
    (realtime_start: the catalog's `vintages: true` series loaded through the API, their ALFRED
    vintages included), the value as first published and the day it was, and the change it
    showed then: against the previous observation as it stood on that same day (the headline
    "payrolls rose by N" figure), not as revised since. Series without dated versions (keyless
    CSV, snapshots) have no rows here. Grain: series x observation date.
-#}
with

dated as (

    select
        series_id,
        observation_date,
        realtime_start,
        known_from,
        value
    from {{ ref('stg_fred__observation_versions') }}
    where realtime_start is not null and value is not null

),

first_release as (

    select
        series_id,
        observation_date,
        value as first_release_value,
        realtime_start as first_release_date,
        count(*) over (partition by series_id, observation_date) as n_versions
    from dated
    qualify
        row_number() over (
            partition by series_id, observation_date order by realtime_start, known_from
        ) = 1

),

-- the previous observation as published on the first-release day: its latest version dated
-- on or before that day (a quarter back at most: the series are monthly, weekly or quarterly)
previous_then as (

    select
        first_release.series_id,
        first_release.observation_date,
        previous.observation_date as previous_observation_date,
        previous.value as previous_value_at_first_release
    from first_release
    inner join dated as previous
        on first_release.series_id = previous.series_id
        and first_release.observation_date > previous.observation_date
        and first_release.observation_date - interval 120 day <= previous.observation_date
        and first_release.first_release_date >= previous.realtime_start
    qualify
        row_number() over (
            partition by first_release.series_id, first_release.observation_date
            order by previous.observation_date desc, previous.realtime_start desc
        ) = 1

)

select
    -- ids
    first_release.series_id,

    -- numerics
    first_release.first_release_value,
    previous_then.previous_value_at_first_release,
    first_release.first_release_value - previous_then.previous_value_at_first_release
        as first_release_change,
    first_release.n_versions,

    -- dates
    first_release.observation_date,
    first_release.first_release_date,
    previous_then.previous_observation_date
from first_release
left join previous_then
    on first_release.series_id = previous_then.series_id
    and first_release.observation_date = previous_then.observation_date
