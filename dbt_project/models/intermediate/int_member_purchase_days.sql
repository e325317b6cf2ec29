-- Purchases per member and calendar day (lifetimes' daily periods): orders on one day are one purchase.
select
    member_id,
    cast(ordered_at as date) as purchase_date,
    count(*) as orders,
    sum(net_spend) as spend
from {{ ref('int_orders__as_of') }}
where is_purchase
group by all
