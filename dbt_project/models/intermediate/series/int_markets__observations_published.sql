-- Market closes (value = close) with the date each became public (macros/point_in_time.sql).
{{ observations_published(ref('stg_markets__daily_bars'), 'markets', value_column='close') }}
