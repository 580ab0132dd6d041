{#-
    How crosswind's stress score and regime compare with each official stress index, one row per
    index and scope: 'full_sample' (every date both have, fct_stress_index_comparison) and each
    named episode of int_stress__named_episodes (dates inside its window; a row with 0
    observations when the index does not cover it). Deciles are always those of the full
    common sample, so an episode row says how high each series went by its own standard.
    - level_correlation / change_4w_correlation: Pearson, of the values and of their 28-day
      changes (rows where both changes exist).
    - top_decile_agreement: of the index's top-decile readings, the share on which crosswind was
      in its own top decile; stress_regime_hit_rate / elevated_regime_hit_rate: ... on which
      crosswind's regime was 'stress' / not 'calm'.
    - peaks: the highest reading of each in the window (earliest on ties); peak_lead_days =
      benchmark_peak_date - crosswind_peak_date (positive: crosswind peaked first).
    - onset: the first reading in the window with the index in its top decile, and the first
      with crosswind's regime 'stress'; onset_lead_days = the difference (positive: crosswind
      first); onset_lead_days_vs_publication compares with the day the index's reading became
      public. A series already elevated when the window opens shows its onset on day one.
    - peaks and onsets are for named episodes; NULL on full_sample rows (a whole-sample peak
      says nothing about timing).
    - episode counts and false alarms (fct_stress_episodes): full_sample rows only.
-#}

with

comparison as (

    select * from {{ ref('fct_stress_index_comparison') }}

),

named_episodes as (

    select * from {{ ref('int_stress__named_episodes') }}

),

episodes as (

    select * from {{ ref('fct_stress_episodes') }}

),

indices as (

    select
        benchmark_index,
        any_value(frequency) as frequency,
        min(date) as sample_start,
        max(date) as sample_end,
        quantile_cont(benchmark_value, {{ var('stress_benchmark_top_quantile') }})
            as benchmark_top_threshold,
        quantile_cont(crosswind_score, {{ var('stress_benchmark_top_quantile') }})
            as crosswind_top_threshold
    from comparison
    group by benchmark_index

),

scopes as (

    select
        indices.benchmark_index,
        'full_sample' as scope,
        'Full common sample' as scope_label,
        0 as scope_order,
        indices.sample_start as window_start,
        indices.sample_end as window_end
    from indices

    union all

    select
        indices.benchmark_index,
        named_episodes.episode as scope,
        named_episodes.label as scope_label,
        row_number() over (
            partition by indices.benchmark_index order by named_episodes.window_start
        ) as scope_order,
        named_episodes.window_start,
        named_episodes.window_end
    from indices
    cross join named_episodes

),

in_scope as (

    select
        scopes.benchmark_index,
        scopes.scope,
        -- EXCLUDE takes bare column names
        comparison.* exclude (benchmark_index)  -- noqa: RF02
    from scopes
    inner join comparison
        on scopes.benchmark_index = comparison.benchmark_index
        and comparison.date between scopes.window_start and scopes.window_end

),

aggregated as (

    select
        benchmark_index,
        scope,
        count(*) as observations,
        min(date) as first_date,
        max(date) as last_date,
        corr(crosswind_score, benchmark_value) as level_correlation,
        corr(crosswind_change_4w, benchmark_change_4w) as change_4w_correlation,
        count(*) filter (where is_benchmark_top_decile) as benchmark_top_decile_readings,
        count(*) filter (where is_crosswind_top_decile) as crosswind_top_decile_readings,
        count(*) filter (where is_benchmark_top_decile and is_crosswind_top_decile)
            as both_top_decile_readings,
        count(*) filter (where is_benchmark_top_decile and crosswind_regime = 'stress')
            as hit_stress_readings,
        count(*) filter (where is_benchmark_top_decile and crosswind_regime <> 'calm')
            as hit_elevated_readings,
        count(*) filter (where crosswind_regime = 'stress') as crosswind_stress_readings,
        case
            when bool_or(crosswind_regime = 'stress') then 'stress'
            when bool_or(crosswind_regime = 'tightening') then 'tightening'
            when bool_or(crosswind_regime = 'calm') then 'calm'
        end as crosswind_max_regime
    from in_scope
    group by benchmark_index, scope

),

timing as (

    -- peaks and onsets of the named episodes
    select
        benchmark_index,
        scope,
        max(benchmark_value) as benchmark_peak_value,
        first(date order by benchmark_value desc, date asc) as benchmark_peak_date,
        first(benchmark_pct_rank order by benchmark_value desc, date asc)
            as benchmark_peak_pct_rank,
        first(benchmark_published_date order by benchmark_value desc, date asc)
            as benchmark_peak_published_date,
        max(crosswind_score) as crosswind_peak_score,
        first(date order by crosswind_score desc, date asc) as crosswind_peak_date,
        first(crosswind_pct_rank order by crosswind_score desc, date asc)
            as crosswind_peak_pct_rank,
        min(date) filter (where is_benchmark_top_decile) as benchmark_onset_date,
        min(benchmark_published_date) filter (where is_benchmark_top_decile)
            as benchmark_onset_published_date,
        min(date) filter (where crosswind_regime = 'stress') as crosswind_stress_onset_date
    from in_scope
    where scope <> 'full_sample'
    group by benchmark_index, scope

),

episode_counts as (

    -- one row per index (zeros when it has no episodes), joined to its full_sample row only
    select
        indices.benchmark_index,
        'full_sample' as scope,
        count(episodes.episode_kind) filter (where episodes.episode_kind = 'benchmark_top_decile')
            as benchmark_episodes,
        count(episodes.episode_kind) filter (
            where episodes.episode_kind = 'benchmark_top_decile' and episodes.is_matched
        ) as benchmark_episodes_detected,
        count(episodes.episode_kind) filter (where episodes.episode_kind = 'crosswind_stress')
            as crosswind_stress_episodes,
        count(episodes.episode_kind) filter (
            where episodes.episode_kind = 'crosswind_stress' and not episodes.is_matched
        ) as false_alarm_episodes,
        count(episodes.episode_kind) filter (
            where episodes.episode_kind = 'crosswind_stress' and episodes.is_calm_false_alarm
        ) as calm_false_alarm_episodes
    from indices
    left join episodes
        on indices.benchmark_index = episodes.benchmark_index
    group by indices.benchmark_index

),

final as (

    select
        -- keys
        scopes.benchmark_index,
        scopes.scope,

        -- strings
        scopes.scope_label,
        indices.frequency as comparison_frequency,
        aggregated.crosswind_max_regime,

        -- numerics
        cast(scopes.scope_order as integer) as scope_order,
        cast(coalesce(aggregated.observations, 0) as integer) as observations,
        aggregated.level_correlation,
        aggregated.change_4w_correlation,
        indices.benchmark_top_threshold,
        indices.crosswind_top_threshold,
        cast(coalesce(aggregated.benchmark_top_decile_readings, 0) as integer)
            as benchmark_top_decile_readings,
        cast(coalesce(aggregated.crosswind_top_decile_readings, 0) as integer)
            as crosswind_top_decile_readings,
        aggregated.both_top_decile_readings
        / nullif(aggregated.benchmark_top_decile_readings, 0) as top_decile_agreement,
        aggregated.hit_stress_readings
        / nullif(aggregated.benchmark_top_decile_readings, 0) as stress_regime_hit_rate,
        aggregated.hit_elevated_readings
        / nullif(aggregated.benchmark_top_decile_readings, 0) as elevated_regime_hit_rate,
        aggregated.crosswind_stress_readings
        / nullif(aggregated.observations, 0) as crosswind_stress_share,
        timing.benchmark_peak_value,
        timing.benchmark_peak_pct_rank,
        timing.crosswind_peak_score,
        timing.crosswind_peak_pct_rank,
        cast(timing.benchmark_peak_date - timing.crosswind_peak_date as integer)
            as peak_lead_days,
        cast(timing.benchmark_onset_date - timing.crosswind_stress_onset_date as integer)
            as onset_lead_days,
        cast(
            timing.benchmark_onset_published_date - timing.crosswind_stress_onset_date
            as integer
        ) as onset_lead_days_vs_publication,
        cast(episode_counts.benchmark_episodes as integer) as benchmark_episodes,
        cast(episode_counts.benchmark_episodes_detected as integer)
            as benchmark_episodes_detected,
        cast(episode_counts.crosswind_stress_episodes as integer) as crosswind_stress_episodes,
        cast(episode_counts.false_alarm_episodes as integer) as false_alarm_episodes,
        cast(episode_counts.calm_false_alarm_episodes as integer) as calm_false_alarm_episodes,
        episode_counts.false_alarm_episodes
        / nullif((aggregated.last_date - aggregated.first_date) / 365.25, 0)
            as false_alarms_per_year,

        -- dates
        scopes.window_start,
        scopes.window_end,
        aggregated.first_date,
        aggregated.last_date,
        timing.benchmark_peak_date,
        timing.benchmark_peak_published_date,
        timing.crosswind_peak_date,
        timing.benchmark_onset_date,
        timing.benchmark_onset_published_date,
        timing.crosswind_stress_onset_date

    from scopes
    inner join indices
        on scopes.benchmark_index = indices.benchmark_index
    left join aggregated
        on scopes.benchmark_index = aggregated.benchmark_index
        and scopes.scope = aggregated.scope
    left join timing
        on scopes.benchmark_index = timing.benchmark_index
        and scopes.scope = timing.scope
    left join episode_counts
        on scopes.benchmark_index = episode_counts.benchmark_index
        and scopes.scope = episode_counts.scope

)

select * from final
