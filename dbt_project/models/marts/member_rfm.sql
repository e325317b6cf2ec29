-- RFM per member who has bought by the as-of day. Recency = days since the last purchase day;
-- frequency = purchase days and monetary = net spend within the last rfm_window_days.
--
-- Scores run 1..rfm_score_buckets, by the method the rfm_scoring_method var names:
--   bins       (default) the cut-offs of seeds/rfm_score_bins.csv: a value gets the highest score
--              whose threshold it reaches (recency: at most max_value days; frequency and monetary:
--              at least min_value), 1 when it reaches none.
--   quantiles  1 + floor(buckets * share of the population with a strictly worse value): equal
--              values share the LOWER score, so when 60% of buyers bought once they all score 1.
--              Recency is ranked among all members here, frequency and monetary among those who
--              bought in the window.
-- Either way a member with no purchase in the window scores 1 on frequency and monetary, and more
-- purchase days, more spend (never negative: net_spend is floored at 0) or a more recent purchase
-- never scores lower. The named segment is the first rule of seeds/rfm_segments.csv (by priority)
-- that the recency and frequency scores fall into.
{% set as_of = as_of_date() %}
{% set buckets = var('rfm_score_buckets') %}
{% set method = var('rfm_scoring_method') %}
{% if method not in ('bins', 'quantiles') %}
    {{ exceptions.raise_compiler_error("rfm_scoring_method must be 'bins' or 'quantiles', not '" ~ method ~ "'") }}
{% endif %}
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
    select
        *,
        date_diff('day', last_purchase_date, {{ as_of }}) as recency_days
    from buyers
),

{% if method == 'bins' %}
bins as (
    select
        dimension,
        score,
        min_value,
        max_value
    from {{ ref('rfm_score_bins') }}
),

-- One row per member and dimension, so that one join scores all three.
measures as (
    select
        member_id,
        'recency' as dimension,
        cast(recency_days as decimal(38, 2)) as measure
    from measured
    union all
    select
        member_id,
        'frequency' as dimension,
        frequency as measure
    from measured
    union all
    select
        member_id,
        'monetary' as dimension,
        monetary as measure
    from measured
),

bin_scores as (
    select
        measures.member_id,
        max(bins.score) filter (where bins.dimension = 'recency') as r_score,
        max(bins.score) filter (where bins.dimension = 'frequency') as f_score,
        max(bins.score) filter (where bins.dimension = 'monetary') as m_score
    from measures
    inner join bins
        on
            measures.dimension = bins.dimension
            and (bins.min_value is null or measures.measure >= bins.min_value)
            and (bins.max_value is null or measures.measure <= bins.max_value)
    group by measures.member_id
),

-- A value that reaches no threshold of its dimension scores 1.
raw_scores as (
    select
        measured.*,
        coalesce(bin_scores.r_score, 1) as r_score,
        coalesce(bin_scores.f_score, 1) as f_score,
        coalesce(bin_scores.m_score, 1) as m_score
    from measured
    left join bin_scores on measured.member_id = bin_scores.member_id
),
{% else %}
-- The bins seed stays a dependency, so the graph does not change with the var:
-- depends_on: {{ ref('rfm_score_bins') }}
-- rank() - 1 = members with a strictly worse value (in the same population); integer division
-- floors, and the share is below 1, so the best value scores at most `buckets`.
raw_scores as (
    select
        *,
        1 + ({{ buckets }} * (rank() over (order by recency_days desc) - 1))
            // count(*) over () as r_score,
        1 + ({{ buckets }} * (rank() over (partition by frequency > 0 order by frequency) - 1))
            // count(*) over (partition by frequency > 0) as f_score,
        1 + ({{ buckets }} * (rank() over (partition by frequency > 0 order by monetary) - 1))
            // count(*) over (partition by frequency > 0) as m_score
    from measured
),
{% endif %}

scored as (
    select
        * exclude (r_score, f_score, m_score),
        cast(r_score as integer) as r_score,
        cast(case when frequency = 0 then 1 else f_score end as integer) as f_score,
        cast(case when frequency = 0 then 1 else m_score end as integer) as m_score
    from raw_scores
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
