-- Every order as known on each day: from the day a delivered version became known (its landing day,
-- or its recorded time if later) the latest version known so far is the order's state, as one whole
-- row, until the next version becomes known. A refund delivered days later without updated_at is
-- still a later version (see the recorded_at macro), so it wins from its landing day on.
with versions as (
    select
        *,
        greatest(landing_date, cast(status_at as date), cast(ordered_at as date)) as known_from
    from {{ ref('stg_commerce__orders') }}
),

{{ states_from_versions('versions', 'order_id', latest_version_first('v')) }}

select
    order_id,
    known_from,
    known_to,
    member_id,
    ordered_at,
    channel,
    store_id,
    store_name,
    city,
    gross_amount,
    discount_amount,
    coupon_code,
    status,
    refund_amount,
    status_at,
    gross_amount - discount_amount as net_amount,
    -- A full refund or a cancellation leaves nothing; a partial refund reduces the spend.
    case
        when status in ('refunded', 'cancelled') then 0
        else greatest(gross_amount - discount_amount - refund_amount, 0)
    end as net_spend,
    -- One definition of a purchase for every rule: not cancelled, not refunded in full. A zero-amount
    -- order (fully discounted, free items) is a purchase, as lifetimes counts every transaction.
    status not in ('refunded', 'cancelled')
    and (gross_amount - discount_amount = 0 or refund_amount < gross_amount - discount_amount) as is_purchase
from states
