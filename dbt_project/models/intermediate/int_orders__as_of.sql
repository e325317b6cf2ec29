{{ config(materialized='view') }}
-- Each order as known at the end of the as-of day (one whole row: its latest known version).
-- Refunds and cancellations delivered after the as-of day do not exist yet. A view: a filter of
-- int_order_states that its two readers scan faster than a copy of every order is written.
select * exclude (o.known_from, o.known_to, o.version_count, o.versions_fingerprint)
from {{ ref('int_order_states') }} as o
where {{ known_on('o', as_of_date()) }}
