-- The RFM summary of the `lifetimes` library (summary_data_from_transaction_data, freq='D',
-- observation_period_end = as-of day): orders on one calendar day are one purchase with their
-- amounts summed. frequency = repeat purchase days; recency = days from first to last purchase
-- day; T = days from first purchase day to the as-of day; monetary_value = mean spend of the
-- repeat days (0 for one-time buyers). Purchases are net of refunds known by the as-of day; fully
-- refunded or cancelled orders are not purchases.
with days as (
    select
        member_id,
        purchase_date,
        spend,
        row_number() over (partition by member_id order by purchase_date) as day_number
    from {{ ref('int_member_purchase_days') }}
)

select
    m.member_key,
    count(*) - 1 as frequency,
    date_diff('day', min(purchase_date), max(purchase_date)) as recency,
    date_diff('day', min(purchase_date), {{ as_of_date() }}) as "T",
    coalesce(avg(spend) filter (where day_number > 1), 0) as monetary_value
from days
inner join {{ ref('int_members__as_of') }} as m using (member_id)
group by m.member_key
