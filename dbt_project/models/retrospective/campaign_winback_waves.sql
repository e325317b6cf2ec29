-- Each wave's treated and holdout members, won back or not within that wave's own attribution window
-- (wave_date, least(wave_date + attribution_days, window_end, as of)].
select
    m.campaign_id,
    m.wave_id,
    m.batch_id,
    m.wave_date,
    m.member_key,
    m.arm,
    m.offer_id,
    m.channels,
    m.channel_group,
    m.tier,
    m.is_high_value,
    m.reasons,
    w.window_start,
    w.window_end,
    w.won_back,
    w.won_back_on,
    w.won_back_by
from {{ ref('int_campaign_wave_members') }} as m
inner join {{ ref('int_campaign_winback_windows') }} as w
    on m.batch_id = w.batch_id and m.member_key = w.member_key and m.wave_id = w.scope
