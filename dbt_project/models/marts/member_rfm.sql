-- RFM per member who has bought by the as-of day. Recency = days since the last purchase day;
-- frequency = purchase days and monetary = net spend within the last rfm_window_days. A score is
-- the bucket (1..rfm_score_buckets) holding the value's cumulative share of buyers:
-- ceil(buckets * cume_dist), so equal values always share a score (ties are deterministic) and the
-- best value always scores the top bucket; recency is reversed so the most recent score highest. The named segment is the first rule
-- of seeds/rfm_segments.csv (by priority) that the recency and frequency scores fall into.
{% set as_of = as_of_date() %}
{% set buckets = var('rfm_score_buckets') %}
with buyers as (
    select
        member_id,
        max(purchase_date) as last_purchase_date,
        count(*) filter (where purchase_date > {{ as_of }} - {{ var('rfm_window_days') }}) as frequency,
        coalesce(sum(spend) filter (where purchase_date > {{ as_of }} - {{ var('rfm_window_days') }}), 0) as monetary
    from {{ ref('int_member_purchase_days') }}
    group by member_id
),

measured as (
    select *, date_diff('day', last_purchase_date, {{ as_of }}) as recency_days
    from buyers
),

scored as (
    select
        *,
        cast(ceil({{ buckets }} * cume_dist() over (order by recency_days desc)) as integer) as r_score,
        cast(ceil({{ buckets }} * cume_dist() over (order by frequency)) as integer) as f_score,
        cast(ceil({{ buckets }} * cume_dist() over (order by monetary)) as integer) as m_score
    from measured
),

segmented as (
    select
        scored.*,
        segments.segment
    from scored
    left join {{ ref('rfm_segments') }} as segments
        on scored.r_score between segments.r_min and segments.r_max
        and scored.f_score between segments.f_min and segments.f_max
    qualify row_number() over (partition by scored.member_id order by segments.priority) = 1
)

select
    m.member_key,
    s.last_purchase_date,
    s.recency_days,
    s.frequency,
    s.monetary,
    s.r_score,
    s.f_score,
    s.m_score,
    cast(s.r_score as varchar) || cast(s.f_score as varchar) || cast(s.m_score as varchar) as rfm_cell,
    s.segment
from segmented as s
inner join {{ ref('int_members__as_of') }} as m using (member_id)
