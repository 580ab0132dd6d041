{#-
    crosswind's stress score next to each official stress index, like with like: one row per
    index per observation date of that index, on the dates both have a value (the index's
    "common sample" with crosswind).
    - Weekly indices (STLFSI4, NFCI: the week ending Friday) are compared with crosswind's mean
      score over the five weekdays ending on the index's date; the daily OFR FSI with the score
      of the same day. crosswind's row for D is what was known at the end of D; the index's
      value for the same period became public later (benchmark_published_date), so the two are
      matched on the period they describe, and leads are also reported against publication.
    - crosswind_regime is the regime at the end of the period: on the index's date (daily), or
      on the last weekday of the week with a score (weekly; the Friday unless it has none).
    - An evaluation, not a signal: deciles, percentile ranks and z-scores are over the whole
      common sample of each index (ex post), the way the official episodes are identified.
      is_*_top_decile: value >= the var stress_benchmark_top_quantile (0.9) quantile.
    - *_change_4w: value minus the value var stress_change_days (28) days earlier on the same
      grid; NULL when that date is not in the common sample.
-#}
{%- set top_q = var('stress_benchmark_top_quantile') %}
{%- set change_days = var('stress_change_days') %}

with

benchmarks as (

    select * from {{ ref('int_stress__benchmark_observations') }}

),

scores as (

    select date, stress_score, regime
    from {{ ref('fct_liquidity_pillars_daily') }}

),

named_episodes as (

    select episode, window_start, window_end
    from {{ ref('int_stress__named_episodes') }}

),

weekly_scores as (

    -- the score over the five weekdays (Mon-Fri) of the index's week, ending on its date
    select
        benchmarks.benchmark_index,
        benchmarks.observation_date as date,
        avg(scores.stress_score) as crosswind_score,
        count(scores.stress_score) as crosswind_days,
        max_by(scores.regime, scores.date) filter (where scores.regime is not null)
            as crosswind_regime
    from benchmarks
    inner join scores
        on scores.date between benchmarks.observation_date - 6 and benchmarks.observation_date
        and isodow(scores.date) <= 5
    where benchmarks.frequency = 'weekly'
    group by benchmarks.benchmark_index, benchmarks.observation_date

),

aligned as (

    select
        benchmarks.benchmark_index,
        benchmarks.frequency,
        benchmarks.observation_date as date,
        benchmarks.value as benchmark_value,
        benchmarks.published_date as benchmark_published_date,
        case
            when benchmarks.frequency = 'weekly' then weekly_scores.crosswind_score
            else scores.stress_score
        end as crosswind_score,
        case
            when benchmarks.frequency = 'weekly' then weekly_scores.crosswind_days
            when scores.stress_score is not null then 1
        end as crosswind_days,
        case
            when benchmarks.frequency = 'weekly' then weekly_scores.crosswind_regime
            else scores.regime
        end as crosswind_regime
    from benchmarks
    left join weekly_scores
        on benchmarks.benchmark_index = weekly_scores.benchmark_index
        and benchmarks.observation_date = weekly_scores.date
    left join scores
        on benchmarks.observation_date = scores.date

),

common_sample as (

    select *
    from aligned
    where benchmark_value is not null and crosswind_score is not null

),

sample_stats as (

    select
        benchmark_index,
        quantile_cont(benchmark_value, {{ top_q }}) as benchmark_top_threshold,
        quantile_cont(crosswind_score, {{ top_q }}) as crosswind_top_threshold,
        avg(benchmark_value) as benchmark_mean,
        stddev_samp(benchmark_value) as benchmark_sd,
        avg(crosswind_score) as crosswind_mean,
        stddev_samp(crosswind_score) as crosswind_sd
    from common_sample
    group by benchmark_index

),

ranked as (

    select
        common_sample.*,
        (common_sample.benchmark_value - sample_stats.benchmark_mean)
        / nullif(sample_stats.benchmark_sd, 0) as benchmark_z,
        (common_sample.crosswind_score - sample_stats.crosswind_mean)
        / nullif(sample_stats.crosswind_sd, 0) as crosswind_z,
        percent_rank() over (
            partition by common_sample.benchmark_index order by common_sample.benchmark_value
        ) as benchmark_pct_rank,
        percent_rank() over (
            partition by common_sample.benchmark_index order by common_sample.crosswind_score
        ) as crosswind_pct_rank,
        common_sample.benchmark_value >= sample_stats.benchmark_top_threshold
            as is_benchmark_top_decile,
        common_sample.crosswind_score >= sample_stats.crosswind_top_threshold
            as is_crosswind_top_decile
    from common_sample
    inner join sample_stats
        on common_sample.benchmark_index = sample_stats.benchmark_index

),

changes as (

    select
        ranked.*,
        ranked.benchmark_value - earlier.benchmark_value as benchmark_change_4w,
        ranked.crosswind_score - earlier.crosswind_score as crosswind_change_4w
    from ranked
    left join common_sample as earlier
        on ranked.benchmark_index = earlier.benchmark_index
        and earlier.date = ranked.date - {{ change_days }}

),

final as (

    select
        -- keys
        changes.benchmark_index,
        changes.date,

        -- strings
        changes.frequency,
        changes.crosswind_regime,
        named_episodes.episode as named_episode,

        -- numerics
        changes.benchmark_value,
        changes.crosswind_score,
        cast(changes.crosswind_days as integer) as crosswind_days,
        changes.benchmark_z,
        changes.crosswind_z,
        changes.benchmark_pct_rank,
        changes.crosswind_pct_rank,
        changes.benchmark_change_4w,
        changes.crosswind_change_4w,

        -- booleans
        changes.is_benchmark_top_decile,
        changes.is_crosswind_top_decile,

        -- dates
        changes.benchmark_published_date

    from changes
    left join named_episodes
        on changes.date between named_episodes.window_start and named_episodes.window_end

)

select * from final
