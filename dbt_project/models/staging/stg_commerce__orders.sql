{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_reloaded_days(source('commerce', 'orders'), '_landing_date', '_loaded_at') }}",
) }}
-- One row per delivered version of an order (a refund is the same order_id delivered again later).
-- Incremental by landing day (macros/incremental.sql): a build reads only the days from the earliest
-- (re)loaded one, and drops versions already delivered before.
{% set version_columns = [
    'order_id', 'status_at', 'member_id', 'ordered_at', 'channel', 'store_id', 'store_name', 'city',
    'gross_amount', 'discount_amount', 'coupon_code', 'status', 'refund_amount',
] %}
{% set reload_day = reload_from(source('commerce', 'orders'), '_landing_date', '_loaded_at') if is_incremental() %}
with source as (
    select * from {{ source('commerce', 'orders') }}
    {% if is_incremental() %}
        where _landing_date >= '{{ reload_day }}'
    {% endif %}
),

renamed as (
    select
        order_id,
        {{ recorded_at('updated_at', 'order_time') }} as status_at,
        updated_at is not null as status_at_delivered,
        member_id,
        order_time as ordered_at,
        channel,
        store_id,
        store_name,
        city,
        gross_amount,
        coalesce(discount_amount, 0) as discount_amount,
        coupon_code,
        status,
        coalesce(refund_amount, 0) as refund_amount,
        _landing_date as landing_date,
        _source_file as source_file,
        _row_number as source_row_number,
        _loaded_at as loaded_at
    from source
),

-- A version is its values as renamed (a missing discount and a zero discount are the same version).
first_deliveries as (
    select * from renamed
    qualify row_number() over (
            partition by {{ version_columns | join(', ') }}
            order by landing_date, source_file, source_row_number
        ) = 1
)

select * from first_deliveries
{% if is_incremental() %}
    where not exists (
        select 1 from {{ this }} as kept
        where kept.landing_date < '{{ reload_day }}'
            and kept.order_id = first_deliveries.order_id
            {% for column in version_columns[1:] %}
            and kept.{{ column }} is not distinct from first_deliveries.{{ column }}
            {% endfor %}
    )
{% endif %}
