-- Units labels with their stored unit and conversion factor (orchestration/catalog.yaml).
with

source as (

    select * from {{ source('raw_meta', 'unit_labels') }}

),

renamed as (

    select
        units,
        stored_units,
        cast(factor as double) as factor
    from source

)

select * from renamed
