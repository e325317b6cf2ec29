-- Feedback that matches no exported touch, kept with the reason (never dropped silently). No member id: the
-- reason and the message id are enough to trace it back to the landing file.
select
    message_id,
    batch_id,
    feedback_channel,
    outcome,
    occurred_at,
    landing_date,
    reason
from {{ ref('int_campaign_feedback_checked') }}
where reason is not null
