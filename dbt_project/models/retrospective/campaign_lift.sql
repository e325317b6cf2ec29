-- Incremental lift: treated minus holdout win-back rate, with its confidence interval by Newcombe's hybrid
-- score method (each arm's Wilson score interval; Newcombe 1998, method 10), overall and by channel, channel
-- group and tier, for the first batch and each wave. Null when an arm is empty (no honest interval exists).
{% set z = var('retrospective_z') %}
with rates as (
    select * from {{ ref('campaign_winback_rates') }}
    where dimension in ('overall', 'channel', 'channel_group', 'tier')
),

arms as (
    select
        campaign_id,
        scope,
        dimension,
        dimension_value,
        coalesce(sum(members) filter (where arm = 'treated'), 0)::bigint as treated_members,
        coalesce(sum(won_back) filter (where arm = 'treated'), 0)::bigint as treated_won_back,
        coalesce(sum(members) filter (where arm = 'holdout'), 0)::bigint as holdout_members,
        coalesce(sum(won_back) filter (where arm = 'holdout'), 0)::bigint as holdout_won_back
    from rates
    group by all
),

measured as (
    select
        *,
        treated_won_back / nullif(treated_members, 0) as treated_rate,
        holdout_won_back / nullif(holdout_members, 0) as holdout_rate
    from arms
)

select
    campaign_id,
    scope,
    dimension,
    dimension_value,
    treated_members,
    treated_won_back,
    treated_rate,
    holdout_members,
    holdout_won_back,
    holdout_rate,
    treated_rate - holdout_rate as lift,
    {{ newcombe_bound('treated_won_back', 'treated_members', 'holdout_won_back', 'holdout_members', z, 'low') }}
        as lift_ci_low,
    {{ newcombe_bound('treated_won_back', 'treated_members', 'holdout_won_back', 'holdout_members', z, 'high') }}
        as lift_ci_high,
    {{ var('retrospective_confidence') }}::double as confidence,
    'Newcombe hybrid score interval (Wilson), {{ (var("retrospective_confidence") * 100) | round | int }}%'
        as ci_method,
    (treated_rate - holdout_rate) * treated_members as incremental_won_back
from measured
