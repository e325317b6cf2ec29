-- Each ticket as known at the end of the as-of day: when it opened and its latest status then.
with states as (
    select *
    from {{ ref('stg_service__tickets') }}
    where {{ known_as_of('landing_date', 'status_at') }}
)

select
    ticket_id,
    arg_min(member_id, status_at) as member_id,
    arg_min(opened_at, status_at) as opened_at,
    arg_min(ticket_type, status_at) as ticket_type,
    arg_max(status, status_at) as status,
    arg_max(closed_at, status_at) as closed_at,
    arg_max(satisfaction, status_at) as satisfaction,
    -- The text as first written is what the customer said; later states may only append notes.
    arg_min(content, status_at) as content,
    max(status_at) as status_at
from states
group by ticket_id
