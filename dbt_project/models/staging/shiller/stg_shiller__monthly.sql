-- Shiller monthly workbook in stored units (see macros/stg_series_observations.sql).
-- observation_date is the first day of the month the workbook row is for.
{{ stg_series_observations(source('raw_shiller', 'monthly')) }}
