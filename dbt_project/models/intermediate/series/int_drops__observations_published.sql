-- User CSV drops with the date each value became public (macros/point_in_time.sql).
{{ observations_published(ref('stg_drops__observations'), 'drops') }}
