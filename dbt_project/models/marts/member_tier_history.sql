-- Membership tier (基础 basic / 进阶 advanced / 尊享 premium) per member over time, as known at the
-- end of the as-of day. A tier holds from valid_from (inclusive) to valid_to (exclusive; null =
-- current). Tier = the highest tier in seeds/tiers.csv whose trailing net spend or paid level the
-- member reaches.
with members as (
    select
        member_id,
        member_key,
        cast(registered_at as date) as registered_date
    from {{ ref('int_members__as_of') }}
),

paid_levels as (
    select
        member_id,
        cast(valid_from as date) as change_date,
        paid_level
    from {{ ref('stg_crm__members') }}
    where {{ known_as_of('landing_date', 'valid_from') }}
    qualify row_number() over (
            partition by member_id, cast(valid_from as date)
            order by valid_from desc, landing_date desc, source_file desc, source_row_number desc
        ) = 1
),

-- Every member's dated changes on one timeline (registration, spend changes from the ledger, paid
-- level changes): a running sum gives the trailing spend and the last paid level so far carries
-- forward, in one sort of the timeline (two ASOF joins against the union of change days sorted it
-- three times). The frame ends with the row's whole day (its peers), so every row of a day carries the
-- day's values; `tiered` keeps one of them. A paid level is never NULL (stg_crm__members makes a missing
-- one 0 and tests it): a NULL here would read as "no change that day", not as level 0.
timeline as (
    select
        member_id,
        registered_date as change_date
    from members
    union all by name
    select
        member_id,
        change_date,
        delta
    from {{ ref('int_member_tier_ledger') }}
    union all by name
    select
        member_id,
        change_date,
        paid_level
    from paid_levels
),

states as (
    select
        member_id,
        change_date,
        coalesce(sum(delta) over so_far, 0) as trailing_spend,
        coalesce(last_value(paid_level ignore nulls) over so_far, 0) as paid_level
    from timeline
    window so_far as (partition by member_id order by change_date range between unbounded preceding and current row)
),

tiered as (
    select
        states.member_id,
        states.change_date,
        states.trailing_spend,
        states.paid_level,
        max(tiers.tier_rank) as tier_rank
    from states
    inner join members using (member_id)
    inner join {{ ref('tiers') }} as tiers
        on {{ reaches_tier('states.trailing_spend', 'states.paid_level') }}
    -- Spend before the CRM registered the member counts from the registration day on.
    where states.change_date >= members.registered_date
    group by all
),

transitions as (
    select
        *,
        lag(tier_rank) over (partition by member_id order by change_date) as previous_rank
    from tiered
    qualify previous_rank is distinct from tier_rank
)

select
    members.member_key,
    tiers.tier,
    tiers.tier_name_zh,
    transitions.tier_rank,
    transitions.change_date as valid_from,
    lead(transitions.change_date) over (partition by transitions.member_id order by transitions.change_date) as valid_to,
    previous.tier as previous_tier,
    case
        when transitions.previous_rank is null then 'initial'
        when transitions.tier_rank > transitions.previous_rank then 'upgrade'
        else 'downgrade'
    end as change_type,
    transitions.trailing_spend as trailing_spend_at_change,
    transitions.paid_level as paid_level_at_change,
    lead(transitions.change_date) over (partition by transitions.member_id order by transitions.change_date) is null as is_current
from transitions
inner join members using (member_id)
inner join {{ ref('tiers') }} as tiers on transitions.tier_rank = tiers.tier_rank
left join {{ ref('tiers') }} as previous on transitions.previous_rank = previous.tier_rank
