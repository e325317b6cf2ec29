-- Each member known at the end of the as-of day, with the measures and classifications of
-- int_member_state_daily for that day: what dim_members shows.
select *
from {{ ref('int_member_state_daily') }}
where as_of_date = {{ as_of_date() }}
