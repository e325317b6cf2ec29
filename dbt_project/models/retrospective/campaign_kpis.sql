-- The brief's retrospective KPIs for the campaign period, (window start .. least(window end, as of)), against the
-- same number of days right before it. The membership KPIs are marts.member_kpis_daily's on each period's last day,
-- which measure their own trailing windows (kpi_* vars): each row's period_start / period_end say what the value
-- really covers, so a 180-day churn rate is never labelled as the campaign's two months. A day outside the
-- computed KPI history gives null values, not an error. Touch open and unsubscribe rates are over the touches
-- exported in the period. Nothing before the campaign window starts. Targets: seed retrospective_targets.
with spans as (
    select
        c.campaign_id,
        c.window_start,
        least(c.window_end, a.as_of_date) as campaign_end
    from {{ ref('stg_outreach_log__campaigns') }} as c
    cross join {{ ref('int_as_of_date') }} as a
    where a.as_of_date >= c.window_start
),

periods as (
    select
        campaign_id,
        'campaign' as period,
        window_start as period_start,
        campaign_end as period_end
    from spans
    union all
    select
        campaign_id,
        'before' as period,
        window_start - cast(campaign_end - window_start + 1 as integer) as period_start,
        window_start - 1 as period_end
    from spans
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

-- One row per KPI: a list of (kpi, value) pairs, unnested.
kpi_values as (
    select
        p.campaign_id,
        p.period,
        p.period_start,
        p.period_end,
        unnest([
            -- days: the trailing window the value measures, ending on period_end (null: the period itself).
            {
                'kpi': 'core_repurchase_rate', 'value': k.core_repurchase_rate,
                'days': {{ var('kpi_repurchase_period_days') }}
            },
            { 'kpi': 'dormant_wake_up_rate', 'value': k.dormant_wake_up_rate, 'days': {{ var('kpi_wake_up_days') }} },
            { 'kpi': 'touch_open_rate', 'value': t.opened / nullif(t.exported, 0), 'days': null },
            { 'kpi': 'unsubscribe_rate', 'value': t.unsubscribed / nullif(t.exported, 0), 'days': null },
            { 'kpi': 'churn_rate', 'value': k.churn_rate, 'days': {{ var('kpi_churn_period_days') }} },
            {
                'kpi': 'top_member_revenue_share', 'value': k.top_member_revenue_share,
                'days': {{ var('tier_window_days') }}
            },
            -- Tier mix: the members' tiers on period_end.
            { 'kpi': 'tier_share_basic', 'value': k.members_basic / nullif(k.members, 0), 'days': 1 },
            { 'kpi': 'tier_share_advanced', 'value': k.members_advanced / nullif(k.members, 0), 'days': 1 },
            { 'kpi': 'tier_share_premium', 'value': k.members_premium / nullif(k.members, 0), 'days': 1 }
        ]) as kpi_value
    from periods as p
    left join {{ ref('member_kpis_daily') }} as k on p.period_end = k.as_of_date
    inner join touches as t on p.campaign_id = t.campaign_id and p.period = t.period
),

values_by_kpi as (
    select
        campaign_id,
        period,
        coalesce(period_end - cast(kpi_value.days - 1 as integer), period_start) as period_start,
        period_end,
        kpi_value.kpi,
        kpi_value.value
    from kpi_values
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
