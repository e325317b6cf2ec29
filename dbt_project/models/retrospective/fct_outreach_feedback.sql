-- Channel feedback matched to the exported touch it reports on (message_id = touch_id, same batch, member and
-- channel), one row per touch and outcome; what does not match is in outreach_feedback_rejected.
select
    touch_id,
    campaign_id,
    wave_id,
    batch_id,
    member_key,
    channel,
    outcome,
    occurred_at,
    cast(occurred_at as date) as occurred_date,
    landing_date
from {{ ref('int_campaign_feedback_checked') }}
where reason is null
