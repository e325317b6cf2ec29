{{ config(tags=['retrospective']) }}
-- Who was won back in which window: one row per measured list (scope) and member. Scope first_batch: the first
-- wave's treated and holdout members, all in one fixed window (first wave date, least(measurement_end, as of)]
-- (intention-to-treat: the same window for both arms, whatever later waves did). Scope <wave_id>: that wave's
-- treated and holdout members in (wave_date, least(wave_date + attribution_days, window_end, as of)].
-- A member is won back on the first day in the window (start exclusive) with a purchase, or by which they have
-- both a login and a benefit_use in it; a purchase decides a tie.
with as_of as (
    select as_of_date from {{ ref('int_as_of_date') }}
),

campaigns as (
    select * from {{ ref('stg_outreach_log__campaigns') }}
),

measured as (
    select * from {{ ref('stg_outreach_log__targets') }}
    where outcome in ('treated', 'holdout')
),

windows as (
    select
        m.campaign_id,
        'first_batch' as scope,
        m.wave_id,
        m.batch_id,
        m.member_key,
        m.outcome as arm,
        c.first_wave_date as window_start,
        least(c.measurement_end, a.as_of_date) as window_end
    from measured as m
    inner join campaigns as c on m.campaign_id = c.campaign_id and m.wave_id = c.first_wave_id
    cross join as_of as a
    union all
    select
        m.campaign_id,
        m.wave_id as scope,
        m.wave_id,
        m.batch_id,
        m.member_key,
        m.outcome as arm,
        m.wave_date as window_start,
        least(m.wave_date + c.attribution_days, c.window_end, a.as_of_date) as window_end
    from measured as m
    inner join campaigns as c on m.campaign_id = c.campaign_id
    cross join as_of as a
),

firsts as (
    select
        w.campaign_id,
        w.scope,
        w.wave_id,
        w.batch_id,
        w.member_key,
        w.arm,
        w.window_start,
        w.window_end,
        min(e.activity_date) filter (where e.activity = 'purchase') as first_purchase,
        min(e.activity_date) filter (where e.activity = 'login') as first_login,
        min(e.activity_date) filter (where e.activity = 'benefit_use') as first_benefit_use
    from windows as w
    left join {{ ref('int_campaign_member_activity') }} as e
        on
            w.member_key = e.member_key
            and w.window_start < e.activity_date
            and w.window_end >= e.activity_date
    group by all
),

decided as (
    select
        *,
        -- greatest() skips nulls in DuckDB: both events must be there.
        case
            when first_login is not null and first_benefit_use is not null
                then greatest(first_login, first_benefit_use)
        end as login_and_benefit_use_on
    from firsts
)

select
    campaign_id,
    scope,
    wave_id,
    batch_id,
    member_key,
    arm,
    window_start,
    window_end,
    coalesce(first_purchase, login_and_benefit_use_on) is not null as won_back,
    least(first_purchase, login_and_benefit_use_on) as won_back_on,
    case
        when first_purchase <= coalesce(login_and_benefit_use_on, first_purchase) then 'repurchase'
        when login_and_benefit_use_on is not null then 'login_and_benefit_use'
    end as won_back_by
from decided
