-- One row per delivered version of a ticket (a ticket is delivered again whenever it changes).
with source as (
    select * from {{ source('service', 'tickets') }}
),

renamed as (
    select
        ticket_id,
        {{ recorded_at('updated_at', 'opened_at') }} as status_at,
        updated_at is not null as status_at_delivered,
        member_id,
        opened_at,
        closed_at,
        ticket_type,
        status,
        {{ redact_contact_details("content") }} as content,
        -- The key of the text's churn-intent score (signals.ticket_churn_intent), taken before redaction:
        -- the asset hashes raw.tickets.content with the same md5.
        md5(content) as content_hash,
        satisfaction,
        _landing_date as landing_date,
        _source_file as source_file,
        _row_number as source_row_number
    from source
    {{ first_delivery([
        'ticket_id', recorded_at('updated_at', 'opened_at'), 'member_id', 'opened_at', 'closed_at', 'ticket_type', 'status', 'content',
        'satisfaction',
    ]) }}
)

select * from renamed
