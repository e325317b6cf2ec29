{{ config(tags=['retrospective']) }}
-- The campaign settings the retrospective measures with (one row per campaign; the file is the truth).
select
    campaign_id,
    campaign_name,
    window_start,
    window_end,
    attribution_days,
    first_wave_id,
    first_wave_date,
    last_wave_date,
    measurement_end,
    budget_cny,
    sms_quota,
    holdout_share
from {{ source('outreach_log', 'campaigns') }}
