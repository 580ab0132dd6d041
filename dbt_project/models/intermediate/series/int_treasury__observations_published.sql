-- Treasury DTS balances with the date each became public (macros/point_in_time.sql).
{{ observations_published(ref('stg_treasury__operating_cash_balance'), 'treasury') }}
