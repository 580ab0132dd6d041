{#-
    Labour market, one row per calendar month (month start), from the first to the last month
    any input covers. Values are the month's figures as finally loaded (not first prints);
    `*_published_date` says when each became public (observation month start + catalog lag).
    - PAYEMS: total nonfarm payrolls, thousands of persons; monthly change and YoY.
    - UNRATE: unemployment rate, percent; YoY change in percentage points.
    - ADP (drop, optional): ADP private payroll change, thousands.
    - CHALLENGER (drop, optional): announced job cuts, count; YoY percent change.
    Optional inputs that are not loaded leave their columns NULL and has_adp/has_challenger
    false. YoY compares with the row 12 months earlier (NULL when that month is missing).
-#}

with

published as (

    select series_id, observation_date, value, published_date
    from {{ ref('int_fred__observations_published') }}
    where series_id in ('PAYEMS', 'UNRATE')

    union all

    select series_id, observation_date, value, published_date
    from {{ ref('int_drops__observations_published') }}
    where series_id in ('ADP', 'CHALLENGER')

),

observations as (

    select
        series_id,
        cast(date_trunc('month', observation_date) as date) as month,
        value,
        published_date
    from published

),

bounds as (

    select min(month) as min_month, max(month) as max_month
    from observations

),

months as (

    select cast(unnest(generate_series(min_month, max_month, interval 1 month)) as date) as month
    from bounds
    where min_month is not null

),

pivoted as (

    select
        month,
        -- a month may in principle hold several observations (e.g. a mid-month drop): the
        -- latest published one wins
        arg_max(value, published_date) filter (where series_id = 'PAYEMS') as payrolls_thousands,
        max(published_date) filter (where series_id = 'PAYEMS') as payrolls_published_date,
        arg_max(value, published_date) filter (where series_id = 'UNRATE')
            as unemployment_rate_pct,
        max(published_date) filter (where series_id = 'UNRATE') as unemployment_published_date,
        arg_max(value, published_date) filter (where series_id = 'ADP') as adp_change_thousands,
        arg_max(value, published_date) filter (where series_id = 'CHALLENGER')
            as challenger_job_cuts
    from observations
    group by month

),

flags as (

    select
        count(*) filter (where series_id = 'ADP') > 0 as has_adp,
        count(*) filter (where series_id = 'CHALLENGER') > 0 as has_challenger
    from observations

),

joined as (

    select
        months.month,
        -- EXCLUDE takes bare column names
        pivoted.* exclude (month)  -- noqa: RF02
    from months
    left join pivoted
        on months.month = pivoted.month

),

changes as (

    select
        current_month.*,
        current_month.payrolls_thousands - previous_month.payrolls_thousands
            as payroll_change_thousands,
        current_month.payrolls_thousands - year_ago.payrolls_thousands
            as payrolls_yoy_change_thousands,
        (current_month.payrolls_thousands / year_ago.payrolls_thousands - 1) * 100
            as payrolls_yoy_pct,
        current_month.unemployment_rate_pct - year_ago.unemployment_rate_pct
            as unemployment_rate_yoy_change_pp,
        current_month.adp_change_thousands - year_ago.adp_change_thousands
            as adp_change_yoy_diff_thousands,
        (current_month.challenger_job_cuts / nullif(year_ago.challenger_job_cuts, 0) - 1) * 100
            as challenger_job_cuts_yoy_pct
    from joined as current_month
    left join joined as previous_month
        on previous_month.month = cast(current_month.month - interval 1 month as date)
    left join joined as year_ago
        on year_ago.month = cast(current_month.month - interval 12 month as date)

),

final as (

    select
        changes.month,
        changes.payrolls_thousands,
        changes.payroll_change_thousands,
        avg(changes.payroll_change_thousands) over (
            order by changes.month rows between 2 preceding and current row
        ) as payroll_change_3m_avg_thousands,
        changes.payrolls_yoy_change_thousands,
        changes.payrolls_yoy_pct,
        changes.unemployment_rate_pct,
        changes.unemployment_rate_yoy_change_pp,
        changes.adp_change_thousands,
        changes.adp_change_yoy_diff_thousands,
        changes.challenger_job_cuts,
        changes.challenger_job_cuts_yoy_pct,
        changes.payrolls_published_date,
        changes.unemployment_published_date,
        flags.has_adp,
        flags.has_challenger
    from changes
    cross join flags

)

select * from final
