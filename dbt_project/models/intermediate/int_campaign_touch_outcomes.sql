{{ config(tags=['retrospective']) }}
-- Each exported touch with what its feedback says, as of the as-of day: the first day it was known delivered
-- (delivered, or opened, clicked or answered, which imply it), opened (opened, clicked or answered) and
-- unsubscribed, and the touch's unit cost. Holdout members' planned touches were never sent: not here.
with feedback as (
    select
        touch_id,
        min(occurred_date) filter (
            where outcome in ('delivered', 'opened', 'clicked', 'answered')
        ) as delivered_on,
        min(occurred_date) filter (where outcome in ('opened', 'clicked', 'answered')) as opened_on,
        min(occurred_date) filter (where outcome = 'unsubscribed') as unsubscribed_on
    from {{ ref('fct_outreach_feedback') }}
    group by touch_id
)

select
    t.touch_id,
    t.campaign_id,
    t.wave_id,
    t.batch_id,
    t.send_date,
    t.member_key,
    t.channel,
    t.offer_id,
    c.unit_cost,
    f.delivered_on,
    f.opened_on,
    f.unsubscribed_on
from {{ ref('stg_outreach_log__touches') }} as t
left join feedback as f on t.touch_id = f.touch_id
left join {{ ref('stg_outreach_log__channels') }} as c on t.campaign_id = c.campaign_id and t.channel = c.channel
where t.status = 'exported'
