-- The brief's retrospective KPIs for the campaign period, (window start .. least(window end, as of)), against the
-- same number of days right before it. The membership KPIs are marts.member_kpis_daily's on each period's last day
-- (its own periods end there); a day outside the computed KPI history gives null values, not an error. Touch open
-- and unsubscribe rates are over the touches exported in the period. Targets: seed retrospective_targets.
with periods as (
    select
        c.campaign_id,
        p.period,
        p.period_start,
        p.period_end
    from {{ ref('stg_outreach_log__campaigns') }} as c
    cross join {{ ref('int_as_of_date') }} as a
    cross join lateral (
        select
            'campaign' as period,
            c.window_start as period_start,
            least(c.window_end, a.as_of_date) as period_end
        union all
        select
            'before' as period,
            c.window_start - cast(least(c.window_end, a.as_of_date) - c.window_start + 1 as integer) as period_start,
            c.window_start - 1 as period_end
    ) as p
),

touches as (
    select
        p.campaign_id,
        p.period,
        count(t.touch_id) as exported,
        count(t.opened_on) as opened,
        count(t.unsubscribed_on) as unsubscribed
    from periods as p
    left join {{ ref('int_campaign_touch_outcomes') }} as t
        on p.campaign_id = t.campaign_id and t.send_date between p.period_start and p.period_end
    group by all
),

values_by_kpi as (
    select
        p.campaign_id,
        p.period,
        p.period_start,
        p.period_end,
        v.kpi,
        v.value
    from periods as p
    left join {{ ref('member_kpis_daily') }} as k on p.period_end = k.as_of_date
    inner join touches as t on p.campaign_id = t.campaign_id and p.period = t.period
    cross join lateral (
        select 'core_repurchase_rate' as kpi, k.core_repurchase_rate as value
        union all select 'dormant_wake_up_rate', k.dormant_wake_up_rate
        union all select 'touch_open_rate', t.opened / nullif(t.exported, 0)
        union all select 'unsubscribe_rate', t.unsubscribed / nullif(t.exported, 0)
        union all select 'churn_rate', k.churn_rate
        union all select 'top_member_revenue_share', k.top_member_revenue_share
        union all select 'tier_share_basic', k.members_basic / nullif(k.members, 0)
        union all select 'tier_share_advanced', k.members_advanced / nullif(k.members, 0)
        union all select 'tier_share_premium', k.members_premium / nullif(k.members, 0)
    ) as v
)

select
    v.campaign_id,
    v.kpi,
    v.period,
    v.period_start,
    v.period_end,
    cast(v.value as double) as value,
    t.target,
    t.direction as target_direction,
    case t.direction
        when 'at_least' then v.value >= t.target
        when 'at_most' then v.value <= t.target
    end as meets_target
from values_by_kpi as v
left join {{ ref('retrospective_targets') }} as t on v.kpi = t.kpi
