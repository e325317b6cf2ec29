-- One row per message and outcome (sent, delivered, opened ... each arrive as their own row).
with source as (
    select * from {{ source('outreach', 'outreach_feedback') }}
),

renamed as (
    select
        message_id,
        status as outcome,
        batch_id,
        member_id,
        channel,
        event_time as occurred_at,
        _landing_date as landing_date
    from source
    {{ first_delivery(['message_id', 'status']) }}
)

select * from renamed
