{{ config(tags=['retrospective']) }}
select
    campaign_id,
    wave_id,
    batch_id,
    wave_date,
    marts_as_of,
    members_targeted,
    members_treated,
    members_holdout,
    touches_exported,
    expected_cost,
    created_at as logged_at
from {{ source('outreach_log', 'waves') }}
