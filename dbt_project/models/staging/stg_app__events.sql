{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_reloaded_days(source('app', 'events'), '_landing_date', '_loaded_at') }}",
) }}
-- One row per event id, the first delivery of it. Incremental by landing day (macros/incremental.sql):
-- a build reads only the days from the earliest (re)loaded one, and drops ids already delivered before.
{% set reload_day = reload_from(source('app', 'events'), '_landing_date', '_loaded_at') if is_incremental() %}
with source as (
    select * from {{ source('app', 'events') }}
    {% if is_incremental() %}
        where _landing_date >= '{{ reload_day }}'
    {% endif %}
),

renamed as (
    select
        event_id,
        member_id,
        event_time as occurred_at,
        event_type,
        platform,
        page,
        benefit_code,
        dwell_seconds,
        _landing_date as landing_date,
        _loaded_at as loaded_at
    from source
    {{ first_delivery(['event_id']) }}
)

select * from renamed
{% if is_incremental() %}
    where not exists (
        select 1 from {{ this }} as kept
        where kept.event_id = renamed.event_id and kept.landing_date < '{{ reload_day }}'
    )
{% endif %}
