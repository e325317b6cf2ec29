-- Service tickets as known at the end of the as-of day; the free text stays out of the mart, only
-- the churn intent the detector found in it (if any) and the words that decided it are kept.
{% set as_of_end = as_of_date() ~ " + interval 1 day" %}
select
    t.ticket_id,
    m.member_key,
    t.opened_at,
    t.ticket_type,
    t.status,
    t.closed_at,
    t.status in ('resolved', 'closed') as is_resolved,
    date_diff('hour', t.opened_at, coalesce(t.closed_at, {{ as_of_end }})) as hours_open,
    t.satisfaction,
    i.category as churn_intent_category,
    i.evidence as churn_intent_evidence,
    i.detector_version as churn_intent_detector_version
from {{ ref('int_tickets__as_of') }} as t
inner join {{ ref('int_members__as_of') }} as m using (member_id)
left join {{ ref('int_ticket_churn_intent') }} as i using (ticket_id, known_from)
