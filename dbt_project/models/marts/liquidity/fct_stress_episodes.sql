{#-
    Stress episodes on each official index's comparison grid (fct_stress_index_comparison),
    one row per index, kind and episode:
    - 'benchmark_top_decile': a run of the index's top-decile readings;
    - 'crosswind_stress': a run of readings on which crosswind's regime was 'stress'.
    Readings at most var stress_episode_tolerance_days (28) calendar days apart belong to one
    episode. Matching uses the same tolerance:
    - an index episode is matched (crosswind detected it) when crosswind was in 'stress' on a
      reading from `tolerance` days before its start to its end; lead_days = start_date - the
      first such reading (positive: crosswind was in stress first);
    - a crosswind episode is matched (confirmed) when the index had a top-decile reading from
      `tolerance` days before its start to `tolerance` days after its end; unmatched = a false
      alarm. is_calm_false_alarm: the index stayed at or below its common-sample median over
      that span (it called those days calm, not merely short of its top decile).
-#}
{%- set tolerance = var('stress_episode_tolerance_days') %}

with

comparison as (

    select * from {{ ref('fct_stress_index_comparison') }}

),

named_episodes as (

    select episode, window_start, window_end
    from {{ ref('int_stress__named_episodes') }}

),

medians as (

    select benchmark_index, median(benchmark_value) as benchmark_median
    from comparison
    group by benchmark_index

),

flagged as (

    select
        benchmark_index,
        'benchmark_top_decile' as episode_kind,
        date,
        benchmark_value as value,
        benchmark_published_date as published_date
    from comparison
    where is_benchmark_top_decile

    union all

    select
        benchmark_index,
        'crosswind_stress' as episode_kind,
        date,
        crosswind_score as value,
        date as published_date
    from comparison
    where crosswind_regime = 'stress'

),

starts as (

    select
        *,
        coalesce(
            date - lag(date) over (partition by benchmark_index, episode_kind order by date)
            > {{ tolerance }},
            true
        ) as is_start
    from flagged

),

numbered as (

    select
        *,
        sum(cast(is_start as int)) over (
            partition by benchmark_index, episode_kind
            order by date
            rows between unbounded preceding and current row
        ) as episode_number
    from starts

),

episodes as (

    select
        benchmark_index,
        episode_kind,
        episode_number,
        min(date) as start_date,
        max(date) as end_date,
        count(*) as readings,
        max(value) as peak_value,
        first(date order by value desc, date asc) as peak_date,
        min(published_date) as start_published_date
    from numbered
    group by benchmark_index, episode_kind, episode_number

),

matches as (

    select
        episodes.benchmark_index,
        episodes.episode_kind,
        episodes.episode_number,
        min(comparison.date) filter (
            where episodes.episode_kind = 'benchmark_top_decile'
            and comparison.crosswind_regime = 'stress'
            and comparison.date <= episodes.end_date
        ) as first_crosswind_stress_date,
        bool_or(comparison.is_benchmark_top_decile) filter (
            where episodes.episode_kind = 'crosswind_stress'
        ) as has_benchmark_top_decile,
        max(comparison.benchmark_value) filter (
            where episodes.episode_kind = 'crosswind_stress'
        ) as benchmark_max_value
    from episodes
    inner join comparison
        on episodes.benchmark_index = comparison.benchmark_index
        and comparison.date between episodes.start_date - {{ tolerance }}
        and episodes.end_date + {{ tolerance }}
    group by episodes.benchmark_index, episodes.episode_kind, episodes.episode_number

),

final as (

    select
        -- keys
        episodes.benchmark_index,
        episodes.episode_kind,
        cast(episodes.episode_number as integer) as episode_number,

        -- strings
        named_episodes.episode as named_episode,

        -- numerics
        cast(episodes.readings as integer) as readings,
        episodes.peak_value,
        case
            when episodes.episode_kind = 'benchmark_top_decile'
                then cast(episodes.start_date - matches.first_crosswind_stress_date as integer)
        end as lead_days,

        -- booleans
        case
            when episodes.episode_kind = 'benchmark_top_decile'
                then matches.first_crosswind_stress_date is not null
            else coalesce(matches.has_benchmark_top_decile, false)
        end as is_matched,
        case
            when episodes.episode_kind = 'crosswind_stress'
                then matches.benchmark_max_value <= medians.benchmark_median
        end as is_calm_false_alarm,

        -- dates
        episodes.start_date,
        episodes.end_date,
        episodes.peak_date,
        episodes.start_published_date,
        matches.first_crosswind_stress_date

    from episodes
    inner join matches
        on episodes.benchmark_index = matches.benchmark_index
        and episodes.episode_kind = matches.episode_kind
        and episodes.episode_number = matches.episode_number
    inner join medians
        on episodes.benchmark_index = medians.benchmark_index
    left join named_episodes
        on episodes.peak_date between named_episodes.window_start and named_episodes.window_end

)

select * from final
