-- MOF JGB yields with the date each became public (macros/point_in_time.sql).
{{ observations_published(ref('stg_mof__jgb_yields'), 'mof') }}
