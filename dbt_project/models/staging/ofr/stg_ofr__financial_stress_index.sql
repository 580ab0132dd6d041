-- Observations in stored units (see macros/stg_series_observations.sql).
{{ stg_series_observations(source('raw_ofr', 'financial_stress_index')) }}
