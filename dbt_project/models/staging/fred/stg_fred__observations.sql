-- Observations in stored units (see macros/stg_series_observations.sql). FRED dates its own
-- publication (realtime_start, vintage series): in an as-of build that is when a value was known.
{{ stg_series_observations(
    source('raw_fred', 'observations'), ['realtime_start'], published_column='realtime_start'
) }}
