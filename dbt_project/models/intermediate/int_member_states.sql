-- Every member's CRM state as known on each day: the latest delivered state (by updated_at, then
-- landing day, file and row) among those known by then, from the day it became known (landing day,
-- or its recorded or registration time if later), with its pseudonymous key.
with versions as (
    select
        *,
        valid_from as status_at,
        greatest(landing_date, cast(valid_from as date), cast(registered_at as date)) as known_from
    from {{ ref('stg_crm__members') }}
),

{{ states_from_versions('versions', 'member_id', latest_version_first('v')) }}

select
    member_id,
    known_from,
    known_to,
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
from states
