-- Observations in stored units (see macros/stg_series_observations.sql).
{{ stg_series_observations(source('raw_mof', 'jgb_yields')) }}
