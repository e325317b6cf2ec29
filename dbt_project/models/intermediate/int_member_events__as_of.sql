-- App and mini-program events known at the end of the as-of day.
select *
from {{ ref('stg_app__events') }}
where {{ known_as_of('landing_date', 'occurred_at') }}
