-- Purchase days per member as known at the end of the as-of day: the one definition of "a purchase"
-- (a calendar day with at least one order not cancelled or refunded in full) that RFM, the BTYD
-- summary, the frequency-drop and overdue flags and the repurchase KPIs all count.
select
    p.member_id,
    p.purchase_date,
    p.orders,
    p.spend
from {{ ref('int_member_purchase_day_states') }} as p
where {{ known_on('p', as_of_date()) }}
