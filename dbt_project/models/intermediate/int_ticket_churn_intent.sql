-- The churn intent each known version of a ticket's text carries, as the Python detector scored that
-- text (signals.ticket_churn_intent, one score per distinct text): versions whose text has no intent,
-- or has not been scored yet, have no row.
select
    t.ticket_id,
    t.known_from,
    s.category,
    s.detector_version,
    {{ redact_contact_details("s.evidence") }} as evidence
from {{ ref('int_ticket_states') }} as t
inner join {{ ref('stg_signals__ticket_churn_intents') }} as s using (content_hash)
where s.category in ('competitor', 'no_longer_needed')
