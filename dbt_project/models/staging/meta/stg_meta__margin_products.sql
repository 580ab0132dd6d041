-- COMEX margin products with the catalog series of their underlying and proxy.
with

source as (

    select * from {{ source('raw_meta', 'margin_products') }}

),

renamed as (

    select
        product,
        description,
        underlying as underlying_series_id,
        proxy as proxy_series_id
    from source

)

select * from renamed
