-- Each member's state as known at the end of the as-of day, with its pseudonymous key.
with states as (
    select *
    from {{ ref('stg_crm__members') }}
    where {{ known_as_of('landing_date', 'valid_from') }}
      and registered_at < {{ as_of_date() }} + interval 1 day
),

latest as (
    select *
    from states
    qualify row_number() over (partition by member_id order by valid_from desc, landing_date desc) = 1
)

select
    member_id,
    {{ member_key('member_id') }} as member_key,
    gender,
    birth_month,
    registered_at,
    registration_channel,
    home_store_id,
    city,
    paid_level,
    consent_sms,
    consent_push,
    consent_phone,
    valid_from as state_recorded_at
from latest
