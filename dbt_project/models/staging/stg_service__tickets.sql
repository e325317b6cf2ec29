-- One row per ticket and recorded state (a ticket is re-delivered whenever its status changes).
with source as (
    select * from {{ source('service', 'tickets') }}
),

renamed as (
    select
        ticket_id,
        updated_at as status_at,
        member_id,
        opened_at,
        closed_at,
        ticket_type,
        status,
        {{ redact_contact_details("content") }} as content,
        satisfaction,
        _landing_date as landing_date
    from source
    {{ first_delivery(['ticket_id', 'updated_at']) }}
)

select * from renamed
