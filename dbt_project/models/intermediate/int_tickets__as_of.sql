-- Each ticket as known at the end of the as-of day: its latest known version, as one whole row.
select *
from {{ ref('int_ticket_states') }} as t
where {{ known_on('t', as_of_date()) }}
