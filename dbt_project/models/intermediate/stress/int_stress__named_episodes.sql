{#-
    The named stress episodes the stress score is judged on (fct_stress_scorecard), one row each.
    A window brackets the event with room before it, so a score that leads the official indices
    can show it, and after it, so the peak falls inside. Windows never overlap. Reference data,
    kept here in one reviewed place: alert backtests (issue 12) reuse these windows.
-#}
with

episodes (episode, label, window_start, window_end, reference_date) as (

    values
    -- Lehman (Sep 15), AIG, money-fund run; official indices peak in October
    (
        'gfc_2008', 'Global financial crisis, Lehman', date '2008-08-01', date '2008-12-31',
        date '2008-09-15'
    ),
    -- US downgrade (Aug 5) and the euro-area sovereign crisis
    (
        'us_downgrade_2011', 'US downgrade and euro crisis', date '2011-07-01',
        date '2011-10-31', date '2011-08-08'
    ),
    -- the dash for cash; Fed facilities from Mar 17
    (
        'covid_2020', 'COVID dash for cash', date '2020-02-01', date '2020-04-30',
        date '2020-03-16'
    ),
    -- a year of rate hikes, gilt crisis in September-October
    (
        'rate_shock_2022', 'Rate shock and gilt crisis', date '2022-01-01', date '2022-12-31',
        date '2022-06-13'
    ),
    -- Silicon Valley Bank (Mar 10), Credit Suisse (Mar 19); BTFP lending lifts Fed assets
    (
        'svb_2023', 'Silicon Valley Bank', date '2023-02-15', date '2023-04-30',
        date '2023-03-10'
    ),
    -- yen carry-trade unwind (Aug 5)
    (
        'yen_carry_2024', 'Yen carry unwind', date '2024-07-01', date '2024-08-31',
        date '2024-08-05'
    ),
    -- equities, gold, silver, oil and crypto falling together (Feb 12)
    (
        'selloff_2026', 'Cross-asset selloff', date '2026-01-15', date '2026-03-31',
        date '2026-02-12'
    )

),

final as (

    select
        cast(episode as varchar) as episode,
        cast(label as varchar) as label,
        cast(window_start as date) as window_start,
        cast(window_end as date) as window_end,
        cast(reference_date as date) as reference_date
    from episodes

)

select * from final
