{{ config(tags=['retrospective']) }}
-- Every pool member's decision per wave; the measured arms are outcome treated and holdout.
select
    campaign_id,
    wave_id,
    batch_id,
    wave_date,
    member_key,
    outcome,
    is_holdout,
    priority_rank,
    priority_band,
    offer_id,
    channels,
    reasons,
    flag_count,
    tier,
    is_high_value,
    spend_12m,
    expected_cost,
    channel_cost
from {{ source('outreach_log', 'targets') }}
