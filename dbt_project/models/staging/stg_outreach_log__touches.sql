{{ config(tags=['retrospective']) }}
-- One row per member, wave and channel. status: exported (sent to the channel) or holdout (what a control
-- member would have got; never sent). touch_id is the message_id the channels report feedback under.
select
    touch_id,
    campaign_id,
    wave_id,
    batch_id,
    wave_date,
    send_date,
    member_key,
    channel,
    offer_id,
    is_holdout,
    status
from {{ source('outreach_log', 'touches') }}
