-- One row per delivered version of an order (a refund is the same order_id delivered again later).
with source as (
    select * from {{ source('commerce', 'orders') }}
),

renamed as (
    select
        order_id,
        {{ recorded_at('updated_at', 'order_time') }} as status_at,
        updated_at is not null as status_at_delivered,
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
        _landing_date as landing_date,
        _source_file as source_file,
        _row_number as source_row_number
    from source
    {{ first_delivery([
        'order_id', recorded_at('updated_at', 'order_time'), 'member_id', 'order_time', 'channel', 'store_id', 'store_name', 'city',
        'gross_amount', 'discount_amount', 'coupon_code', 'status', 'refund_amount',
    ]) }}
)

select * from renamed
