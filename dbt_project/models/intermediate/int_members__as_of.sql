-- Each member's state as known at the end of the as-of day, with its pseudonymous key.
select * exclude (m.known_from, m.known_to)
from {{ ref('int_member_states') }} as m
where {{ known_on('m', as_of_date()) }}
