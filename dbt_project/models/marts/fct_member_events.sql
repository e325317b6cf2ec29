-- App and mini-program events known at the end of the as-of day, keyed by member_key.
select
    e.event_id,
    m.member_key,
    e.occurred_at,
    cast(e.occurred_at as date) as event_date,
    e.event_type,
    e.platform,
    e.page,
    e.benefit_code,
    e.dwell_seconds
from {{ ref('int_member_events__as_of') }} as e
inner join {{ ref('int_members__as_of') }} as m using (member_id)
