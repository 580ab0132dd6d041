-- Observations in stored units (see macros/stg_series_observations.sql).
{{ stg_series_observations(source('raw_treasury', 'operating_cash_balance')) }}
