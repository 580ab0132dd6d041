-- Shiller's monthly workbook with the date each row became public (macros/point_in_time.sql).
{{ observations_published(ref('stg_shiller__monthly'), 'shiller') }}
