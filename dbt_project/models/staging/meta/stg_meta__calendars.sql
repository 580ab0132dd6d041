-- Publisher calendars (orchestration/lib/calendars.py): name, the package call that generated
-- the holidays, and the covered span.
with

source as (

    select * from {{ source('raw_meta', 'calendars') }}

),

renamed as (

    select
        calendar,
        description,
        provider,
        cast(first_date as date) as first_date,
        cast(last_date as date) as last_date
    from source

)

select * from renamed
