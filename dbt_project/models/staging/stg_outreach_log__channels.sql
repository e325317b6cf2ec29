{{ config(tags=['retrospective']) }}
select
    campaign_id,
    channel,
    unit_cost
from {{ source('outreach_log', 'channels') }}
