-- The churn intent scored for each distinct ticket text (assets/ingestion/ticket_churn_intent.py).
with source as (
    select * from {{ source('signals', 'ticket_churn_intent') }}
),

renamed as (
    select
        content_hash,
        detector_version,
        category,
        evidence,
        scored_at
    from source
)

select * from renamed
