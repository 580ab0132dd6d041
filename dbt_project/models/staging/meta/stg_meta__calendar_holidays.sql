-- Holidays (closures) of each publisher calendar, generated from the `holidays` package.
with

source as (

    select * from {{ source('raw_meta', 'calendar_holidays') }}

),

renamed as (

    select
        calendar,
        cast(date as date) as holiday_date,
        holiday_name
    from source

)

select * from renamed
