-- Each order as known at the end of the as-of day: its original sale and its latest status then.
-- Refunds and cancellations delivered after the as-of day do not exist yet.
with statuses as (
    select *
    from {{ ref('stg_commerce__orders') }}
    where {{ known_as_of('landing_date', 'status_at') }}
      and ordered_at < {{ as_of_date() }} + interval 1 day
),

orders as (
    select
        order_id,
        arg_min(member_id, status_at) as member_id,
        arg_min(ordered_at, status_at) as ordered_at,
        arg_min(channel, status_at) as channel,
        arg_min(store_id, status_at) as store_id,
        arg_min(store_name, status_at) as store_name,
        arg_min(city, status_at) as city,
        arg_min(gross_amount, status_at) as gross_amount,
        arg_min(discount_amount, status_at) as discount_amount,
        arg_min(coupon_code, status_at) as coupon_code,
        arg_max(status, status_at) as status,
        arg_max(refund_amount, status_at) as refund_amount,
        max(status_at) as status_at
    from statuses
    group by order_id
)

select
    *,
    gross_amount - discount_amount as net_amount,
    -- A full refund or a cancellation leaves nothing; a partial refund reduces the spend.
    case
        when status in ('refunded', 'cancelled') then 0
        else greatest(gross_amount - discount_amount - refund_amount, 0)
    end as net_spend,
    status not in ('refunded', 'cancelled') and gross_amount - discount_amount - refund_amount > 0 as is_purchase
from orders
