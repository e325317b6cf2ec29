with source as (
    select * from {{ source('app', 'events') }}
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
        _landing_date as landing_date
    from source
    {{ first_delivery(['event_id']) }}
)

select * from renamed
