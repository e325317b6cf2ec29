{{ config(materialized='view') }}
-- App and mini-program events known at the end of the as-of day, keyed by member_key. A view: the
-- events are the largest table by far (100M rows for a million members), and a copy of them per build
-- would cost more than everything else in the build; filters on event_date push down into the scan.
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
from {{ ref('stg_app__events') }} as e
inner join {{ ref('int_members__as_of') }} as m using (member_id)
where {{ known_as_of('e.landing_date', 'e.occurred_at') }}
