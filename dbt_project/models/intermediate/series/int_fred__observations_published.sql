-- FRED observations with the date each became public (macros/point_in_time.sql).
{{ observations_published(ref('stg_fred__observations'), 'fred') }}
