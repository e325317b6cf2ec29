-- Orders as known at the end of the as-of day, keyed by member_key.
select
    o.order_id,
    m.member_key,
    o.ordered_at,
    cast(o.ordered_at as date) as order_date,
    o.channel,
    o.store_id,
    o.store_name,
    o.city,
    o.gross_amount,
    o.discount_amount,
    o.net_amount,
    o.coupon_code,
    o.coupon_code is not null as used_coupon,
    o.status,
    o.refund_amount,
    o.net_spend,
    o.is_purchase,
    o.status_at as status_recorded_at
from {{ ref('int_orders__as_of') }} as o
inner join {{ ref('int_members__as_of') }} as m using (member_id)
