{{ config(tags=['retrospective']) }}
-- Each wave's measured members (treated or holdout) with what the wave gave them: offer, profile on the wave
-- date, and channels: those of their touches in the wave (exported for treated; the planned ones, status
-- holdout, for control members), sorted; the group joins them with '+', e.g. call+push.
with channels as (
    select
        batch_id,
        member_key,
        list(distinct channel order by channel) as channels
    from {{ ref('stg_outreach_log__touches') }}
    where status in ('exported', 'holdout')
    group by all
)

select
    t.campaign_id,
    t.wave_id,
    t.batch_id,
    t.wave_date,
    t.member_key,
    t.outcome as arm,
    t.offer_id,
    coalesce(c.channels, []) as channels,
    nullif(array_to_string(coalesce(c.channels, []), '+'), '') as channel_group,
    t.tier,
    t.is_high_value,
    t.reasons,
    t.priority_band
from {{ ref('stg_outreach_log__targets') }} as t
left join channels as c on t.batch_id = c.batch_id and t.member_key = c.member_key
where t.outcome in ('treated', 'holdout')
