{{ config(tags=['retrospective']) }}
select
    campaign_id,
    offer_id,
    offer_name,
    face_value,
    expected_redemption,
    coupon_code,
    benefit_code
from {{ source('outreach_log', 'offers') }}
