-- Which member benefits the first batch used in the final window, by how many members, per arm and tier; ranked
-- within each tier by members (ties share a rank).
with used as (
    select
        b.campaign_id,
        b.arm,
        b.tier,
        e.benefit_code,
        e.member_key
    from {{ ref('campaign_winback') }} as b
    inner join {{ ref('fct_member_events') }} as e
        on
            b.member_key = e.member_key
            and b.window_start < e.event_date
            and b.window_end >= e.event_date
    where e.event_type = 'benefit_use' and e.benefit_code is not null
),

counted as (
    select
        campaign_id,
        arm,
        tier,
        benefit_code,
        count(distinct member_key) as members_used,
        count(*) as uses
    from used
    group by all
)

select
    campaign_id,
    arm,
    tier,
    benefit_code,
    members_used,
    uses,
    rank() over (partition by campaign_id, arm, tier order by members_used desc) as rank_in_tier
from counted
