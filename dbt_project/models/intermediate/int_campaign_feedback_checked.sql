{{ config(tags=['retrospective']) }}
-- Every feedback row known as of the as-of day, checked against the touch it reports on. reason is null for a
-- row matched to an exported touch, else the first check it fails, in the order below; the two retrospective
-- feedback marts split on it, so no row is ever dropped. The call centre codes the call channel `phone`.
with feedback as (
    select * from {{ ref('stg_outreach__feedback') }} as f
    where {{ known_as_of('f.landing_date', 'f.occurred_at') }}
),

members as (
    select
        member_id,
        member_key
    from {{ ref('int_members__as_of') }}
),

checked as (
    select
        f.message_id,
        f.batch_id,
        f.channel as feedback_channel,
        case f.channel when 'phone' then 'call' else f.channel end as channel,
        f.outcome,
        f.occurred_at,
        f.landing_date,
        w.campaign_id,
        w.wave_id,
        m.member_key,
        t.touch_id,
        case
            when w.batch_id is null then 'unknown_batch'
            when t.touch_id is null then 'unknown_message'
            -- A holdout member's planned touch was never sent: feedback on it cannot be real.
            when t.status != 'exported' or m.member_key is null or m.member_key != t.member_key then 'member_not_contacted'
            when t.channel != case f.channel when 'phone' then 'call' else f.channel end then 'channel_mismatch'
        end as reason
    from feedback as f
    left join {{ ref('stg_outreach_log__waves') }} as w on f.batch_id = w.batch_id
    left join {{ ref('stg_outreach_log__touches') }} as t on f.message_id = t.touch_id and f.batch_id = t.batch_id
    left join members as m on f.member_id = m.member_id
)

select * from checked
