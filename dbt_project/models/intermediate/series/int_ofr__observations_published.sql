-- The OFR Financial Stress Index with the date each value became public
-- (macros/point_in_time.sql).
{{ observations_published(ref('stg_ofr__financial_stress_index'), 'ofr') }}
