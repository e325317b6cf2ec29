{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_reloaded_days(ref('stg_app__events')) }}",
) }}
-- App activity per member, landing day and event day: what the member measures need from the events
-- (interaction days and the last login), a fraction of their rows. Incremental by landing day.
{% set reload_day = reload_from(ref('stg_app__events')) if is_incremental() %}
select
    member_id,
    landing_date,
    cast(occurred_at as date) as event_date,
    greatest(landing_date, cast(occurred_at as date)) as known_from,
    count(*) as events,
    max(occurred_at) filter (where event_type = 'login') as last_login_at,
    max(loaded_at) as loaded_at
from {{ ref('stg_app__events') }}
{% if is_incremental() %}
    where landing_date >= '{{ reload_day }}'
{% endif %}
group by member_id, landing_date, cast(occurred_at as date)
