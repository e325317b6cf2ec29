-- One row per order and recorded status (a refund is the same order_id with a later status).
with source as (
    select * from {{ source('commerce', 'orders') }}
),

renamed as (
    select
        order_id,
        updated_at as status_at,
        member_id,
        order_time as ordered_at,
        channel,
        store_id,
        store_name,
        city,
        gross_amount,
        coalesce(discount_amount, 0) as discount_amount,
        coupon_code,
        status,
        coalesce(refund_amount, 0) as refund_amount,
        _landing_date as landing_date
    from source
    {{ first_delivery(['order_id', 'updated_at']) }}
)

select * from renamed
