-- One row per delivered member state; name, mobile, e-mail and birthday stay in raw (PII).
with source as (
    select * from {{ source('crm', 'members') }}
),

renamed as (
    select
        member_id,
        updated_at as valid_from,
        gender,
        month(birthday) as birth_month,
        registered_at,
        registration_channel,
        home_store_id,
        city,
        coalesce(paid_level, 0) as paid_level,
        coalesce(consent_sms, false) as consent_sms,
        coalesce(consent_push, false) as consent_push,
        coalesce(consent_phone, false) as consent_phone,
        _landing_date as landing_date,
        _source_file as source_file,
        _row_number as source_row_number
    from source
    {{ first_delivery([
        'member_id', 'updated_at', 'name', 'mobile', 'email', 'gender', 'birthday', 'registered_at',
        'registration_channel', 'home_store_id', 'city', 'paid_level', 'consent_sms', 'consent_push', 'consent_phone',
    ]) }}
)

select * from renamed
