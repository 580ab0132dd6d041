{#-
    Every version of every FRED observation in stored units: the current rows and the ones they
    replaced (raw_fred.observations_history: crosswind's own revisions and deletions, and the
    ALFRED vintages FRED had replaced before crosswind loaded them, macros/as_of.sql). Missing
    values are kept (value NULL): a first release of '.' is a version too.
    known_from / known_to: when the version was known (FRED's realtime_start where dated, else
    crosswind's load time) and until when (NULL: current). In an as-of build only the versions
    known by then, the one current then with known_to NULL.
-#}
{%- set instant = as_of_instant() -%}

with

versions as (

    {{ raw_versions(source('raw_fred', 'observations'), published_column='realtime_start') }}

),

known as (

    select
        * exclude (_known_to, _change),
        {%- if instant is none %}
        _known_to,
        _change
        {%- else %}
        -- as of the instant, a version replaced only later was still the current one
        case when _known_to <= {{ instant }} then _known_to end as _known_to,
        case when _known_to <= {{ instant }} then _change else 'current' end as _change
        {%- endif %}
    from versions
    {%- if instant is not none %}
    where _known_from <= {{ instant }}
    {%- endif %}

),

{{ unit_conversion_ctes('known') }}

select
    -- ids
    series_id,

    -- strings
    stored_units,
    units as source_units,
    _change as version_change,

    -- numerics
    round(cast(value as double) * conversion_factor, 9) as value,
    cast(value as double) as source_value,
    conversion_factor,

    -- booleans
    is_units_label_known,
    _known_to is null as is_current,

    -- dates
    cast(date as date) as observation_date,
    cast(realtime_start as date) as realtime_start,
    _known_from as known_from,
    _known_to as known_to,

    -- metadata
    source_mode,
    _loaded_at
from factors
