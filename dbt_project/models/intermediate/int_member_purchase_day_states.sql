-- Each member's purchase days as known on each day. A purchase day is a calendar day with at least
-- one purchase order (lifetimes' daily periods: orders on one day are one purchase); it is known from
-- the day its first purchase became known and stops being one if every order of it is later
-- refunded or cancelled. orders / spend are that day's purchase orders and net spend while known so.
with purchases as (
    select
        member_id,
        cast(ordered_at as date) as purchase_date,
        known_from,
        known_to,
        net_spend
    from {{ ref('int_order_states') }}
    where is_purchase
),

changes as (
    select
        member_id,
        purchase_date,
        known_from as change_day,
        1 as orders,
        net_spend as spend
    from purchases
    union all
    select
        member_id,
        purchase_date,
        known_to,
        -1,
        -net_spend
    from purchases
    where known_to is not null
),

running as (
    select
        member_id,
        purchase_date,
        change_day as known_from,
        lead(change_day) over day_changes as known_to,
        sum(sum(orders)) over day_changes as orders,
        sum(sum(spend)) over day_changes as spend
    from changes
    group by member_id, purchase_date, change_day
    window day_changes as (partition by member_id, purchase_date order by change_day)
)

select
    member_id,
    purchase_date,
    known_from,
    known_to,
    cast(orders as bigint) as orders,
    spend
from running
where orders > 0
