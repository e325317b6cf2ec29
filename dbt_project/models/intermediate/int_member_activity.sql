-- Per member, as of the as-of day: purchases, spend, logins and interactions over the windows the
-- segment, lifecycle and risk rules look at. One row per member known by then.
{% set as_of = as_of_date() %}
with members as (
    select member_id, member_key, registered_at from {{ ref('int_members__as_of') }}
),

purchase_days as (
    select * from {{ ref('int_member_purchase_days') }}
),

purchases as (
    select
        member_id,
        min(purchase_date) as first_purchase_date,
        max(purchase_date) as last_purchase_date,
        count(*) as purchase_days,
        sum(orders) filter (where purchase_date > {{ as_of }} - {{ var('tier_window_days') }}) as orders_12m,
        sum(spend) filter (where purchase_date > {{ as_of }} - {{ var('tier_window_days') }}) as spend_12m,
        count(*) filter (where purchase_date > {{ as_of }} - {{ var('tier_window_days') }}) as purchase_days_12m,
        sum(orders) filter (where purchase_date > {{ as_of }} - {{ var('risk_frequency_window_days') }}) as orders_recent,
        sum(orders) filter (
            where purchase_date > {{ as_of }} - 2 * {{ var('risk_frequency_window_days') }}
              and purchase_date <= {{ as_of }} - {{ var('risk_frequency_window_days') }}
        ) as orders_before
    from purchase_days
    group by member_id
),

events as (
    select
        member_id,
        max(occurred_at) filter (where event_type = 'login') as last_login_at,
        max(cast(occurred_at as date)) as last_event_date
    from {{ ref('int_member_events__as_of') }}
    group by member_id
),

interaction_days as (
    select member_id, purchase_date as interaction_date from purchase_days
    union
    select member_id, cast(occurred_at as date) from {{ ref('int_member_events__as_of') }}
),

recent_interactions as (
    select member_id, count(*) as interaction_days_recent
    from interaction_days
    where interaction_date > {{ as_of }} - {{ var('segment_window_days') }}
    group by member_id
)

select
    members.member_id,
    members.member_key,
    members.registered_at,
    purchases.first_purchase_date,
    purchases.last_purchase_date,
    cast(coalesce(purchases.purchase_days, 0) as bigint) as purchase_days,
    cast(coalesce(purchases.orders_12m, 0) as bigint) as orders_12m,
    cast(coalesce(purchases.purchase_days_12m, 0) as bigint) as purchase_days_12m,
    coalesce(purchases.spend_12m, 0) as spend_12m,
    cast(coalesce(purchases.orders_recent, 0) as bigint) as orders_recent,
    cast(coalesce(purchases.orders_before, 0) as bigint) as orders_before,
    events.last_login_at,
    greatest(purchases.last_purchase_date, events.last_event_date) as last_interaction_date,
    cast(coalesce(recent_interactions.interaction_days_recent, 0) as bigint) as interaction_days_recent,
    coalesce(recent_interactions.interaction_days_recent, 0) * 30.0 / {{ var('segment_window_days') }} as interactions_per_month
from members
left join purchases using (member_id)
left join events using (member_id)
left join recent_interactions using (member_id)
