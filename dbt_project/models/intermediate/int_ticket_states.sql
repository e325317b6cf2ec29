-- Every service ticket as known on each day: the latest delivered version (by updated_at, then
-- landing day, file and row) among those known by then, as one whole row, so a reopened ticket has
-- no closed_at and an escalated consultation is a complaint from the day that is known.
with versions as (
    select
        *,
        greatest(landing_date, cast(status_at as date), cast(opened_at as date)) as known_from
    from {{ ref('stg_service__tickets') }}
),

{{ states_from_versions('versions', 'ticket_id', latest_version_first('v')) }}

select
    ticket_id,
    known_from,
    known_to,
    member_id,
    opened_at,
    ticket_type,
    status,
    closed_at,
    satisfaction,
    content,
    content_hash,
    status_at
from states
