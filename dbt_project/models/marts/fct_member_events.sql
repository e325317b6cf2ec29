{{ config(materialized='view') }}
-- App and mini-program events known at the end of the as-of day, keyed by member_key. A view: the
-- events are the largest table by far (100M rows for a million members), and a copy of them per build
-- would cost more than everything else in the build; filters on event_date push down into the scan.
-- Its relations are named without the database, so the view still resolves when the warehouse file is
-- attached under another name (a BI tool, a copy of the file).
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
from {{ ref('stg_app__events').include(database=False) }} as e
inner join {{ ref('int_members__as_of').include(database=False) }} as m using (member_id)
cross join {{ ref('int_as_of_date').include(database=False) }} as d
where e.landing_date <= d.as_of_date and e.occurred_at < d.as_of_date + interval 1 day
