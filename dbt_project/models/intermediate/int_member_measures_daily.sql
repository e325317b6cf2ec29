-- Per member and evaluation day: purchase, spend, login and interaction measures as known at the end
-- of that day. Evaluation days are the history days (int_as_of_dates) and the starts of the KPI
-- periods before them. Windowed counts are kept as running sums of dated changes (a purchase day
-- enters a window on the day it is known and leaves it when it ages out or is refunded), so the cost
-- grows with purchases and days, not with their product. Changes are first moved onto the evaluation
-- day that first sees them (macros/evaluated_span.sql: changes_in_span), so a member has at most one
-- change per aggregate and evaluation day, and each evaluation day reads the latest of them (timeline).
{% set purchase_windows = [
    ('all_time', 0, none),
    ('tier_window', 0, var('tier_window_days')),
    ('risk_recent', 0, var('risk_frequency_window_days')),
    ('risk_previous', var('risk_frequency_window_days'), 2 * var('risk_frequency_window_days')),
    ('repurchase_period', 0, var('kpi_repurchase_period_days')),
] %}
{% set kpi_periods = [var('kpi_wake_up_days'), var('kpi_repurchase_period_days'), var('kpi_churn_period_days')] %}
with evaluation_days as (
    select as_of_date from {{ ref('int_as_of_dates') }}
    {% for period in kpi_periods %}
    union
    select cast(as_of_date - {{ period }} as date) from {{ ref('int_as_of_dates') }}
    {% endfor %}
),

evaluated_span as (
    select
        min(as_of_date) as first_day,
        max(as_of_date) as last_day
    from evaluation_days
),

-- Each day of the span and the first evaluation day on or after it (macros/evaluated_span.sql).
evaluation_buckets as (
    select
        span_days.day,
        min(e.as_of_date) as evaluation_day
    from (
        select cast(unnest(generate_series(first_day, last_day, interval 1 day)) as date) as day
        from evaluated_span
    ) as span_days
    inner join evaluation_days as e on span_days.day <= e.as_of_date
    group by span_days.day
),

members_on_days as (
    select
        d.as_of_date,
        m.member_id,
        m.member_key,
        m.registered_at,
        m.paid_level
    from evaluation_days as d
    inner join {{ ref('int_member_states') }} as m on {{ known_on('m', 'd.as_of_date') }}
),

purchase_days as (
    select * from {{ ref('int_member_purchase_day_states') }}
),

-- A purchase day that left a window before the first evaluation day is in none of its sums.
windowed as (
    {% for name, lower, upper in purchase_windows %}
    {% set leaves %}{% if upper is none %}p.known_to{% else %}least(coalesce(p.known_to, date '9999-12-31'), p.purchase_date + {{ upper }}){% endif %}{% endset %}
    select
        p.member_id,
        '{{ name }}' as window_name,
        p.orders,
        p.spend,
        greatest(p.known_from, p.purchase_date + {{ lower }}) as enters,
        {{ leaves }} as leaves
    from purchase_days as p
    cross join evaluated_span as span
    where {{ leaves }} is null or {{ leaves }} > span.first_day
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

window_changes as (
    select
        member_id,
        window_name,
        enters as change_day,
        1 as days,
        orders,
        spend
    from windowed
    where leaves is null or enters < leaves
    union all
    select
        member_id,
        window_name,
        leaves,
        -1,
        -orders,
        -spend
    from windowed
    where leaves is not null and enters < leaves
),

evaluated_window_changes as (
    {{ changes_in_span('window_changes', 'change_day', ['window_name', 'days', 'orders', 'spend']) }}
),

window_sums as (
    select
        member_id,
        change_day,
        {% for name, lower, upper in purchase_windows %}
        sum(coalesce(sum(days) filter (where window_name = '{{ name }}'), 0)) over member_days as days_{{ name }},
        {% endfor %}
        sum(coalesce(sum(orders) filter (where window_name = 'tier_window'), 0)) over member_days as orders_tier_window,
        sum(coalesce(sum(spend) filter (where window_name = 'tier_window'), 0)) over member_days as spend_tier_window
    from evaluated_window_changes
    group by member_id, change_day
    window member_days as (partition by member_id order by change_day)
),

-- First and last purchase day: from days that stay purchases once known (running min / max by the
-- day they became known), plus days that are purchases only for a while (later refunded): few.
lasting_purchase_days as (
    select
        member_id,
        change_day,
        min(min(purchase_date)) over member_days as first_purchase_date,
        max(max(purchase_date)) over member_days as last_purchase_date
    from (
        {{ changes_in_span('purchase_days', 'known_from', ['purchase_date'], condition='c.known_to is null') }}
    )
    group by member_id, change_day
    window member_days as (partition by member_id order by change_day)
),

passing_purchase_days as (
    select
        m.as_of_date,
        m.member_id,
        min(p.purchase_date) as first_purchase_date,
        max(p.purchase_date) as last_purchase_date
    from members_on_days as m
    inner join purchase_days as p
        on m.member_id = p.member_id and p.known_to is not null and {{ known_on('p', 'm.as_of_date') }}
    group by all
),

event_days as (
    select * from {{ ref('int_member_event_days') }}
),

logins as (
    select
        member_id,
        change_day,
        max(max(last_login_at)) over (partition by member_id order by change_day) as last_login_at
    from (
        {{ changes_in_span('event_days', 'known_from', ['last_login_at'], condition='c.last_login_at is not null') }}
    )
    group by member_id, change_day
),

-- An interaction is a day with any app event or any order placed (even if refunded later: the
-- member showed up), known from the first delivery that tells of it (as int_order_states knows it).
-- A day told of twice (an event and an order) is known from the earlier: the running maximum below
-- reads every delivery as it is, and the recent-day counts take the day once, from its first delivery.
interaction_deliveries as (
    select
        member_id,
        event_date as interaction_date,
        known_from
    from event_days
    union all
    select
        member_id,
        cast(ordered_at as date),
        greatest(landing_date, cast(status_at as date), cast(ordered_at as date))
    from {{ ref('stg_commerce__orders') }}
),

last_interactions as (
    select
        member_id,
        change_day,
        max(max(interaction_date)) over (partition by member_id order by change_day) as last_interaction_date
    from (
        {{ changes_in_span('interaction_deliveries', 'known_from', ['interaction_date']) }}
    )
    group by member_id, change_day
),

-- Only days still in the segment window on the span's first day can count: an earlier day enters and
-- leaves the window before it, and both changes would fall on the first evaluation day.
recent_interaction_days as (
    select
        d.member_id,
        d.interaction_date,
        min(d.known_from) as known_from
    from interaction_deliveries as d
    cross join evaluated_span as span
    where d.interaction_date + {{ var('segment_window_days') }} > span.first_day
    group by d.member_id, d.interaction_date
),

recent_interaction_changes as (
    select
        member_id,
        greatest(known_from, interaction_date) as change_day,
        1 as days
    from recent_interaction_days
    where greatest(known_from, interaction_date) < interaction_date + {{ var('segment_window_days') }}
    union all
    select
        member_id,
        interaction_date + {{ var('segment_window_days') }},
        -1
    from recent_interaction_days
    where greatest(known_from, interaction_date) < interaction_date + {{ var('segment_window_days') }}
),

recent_interactions as (
    select
        member_id,
        change_day,
        sum(sum(days)) over (partition by member_id order by change_day) as interaction_days_recent
    from (
        {{ changes_in_span('recent_interaction_changes', 'change_day', ['days']) }}
    )
    group by member_id, change_day
),

-- Every member's evaluation days and the dated values of each running aggregate, on one timeline:
-- an evaluation day reads, for each aggregate, its last value dated that day or earlier (changes sort
-- before the evaluation row of their day). One sort of the timeline instead of an ASOF join per
-- aggregate, each of which sorted every member-day again (a million members spilled tens of GB).
-- Every aggregate row carries all its columns non-null, so "the last non-null value" is its last row.
timeline as (
    select
        member_id,
        as_of_date as day,
        1 as is_evaluation,
        member_key,
        registered_at,
        paid_level
    from members_on_days
    union all by name
    select
        member_id,
        change_day as day,
        0 as is_evaluation,
        {% for name, lower, upper in purchase_windows %}
        days_{{ name }},
        {% endfor %}
        orders_tier_window,
        spend_tier_window
    from window_sums
    union all by name
    select
        member_id,
        change_day as day,
        0 as is_evaluation,
        first_purchase_date as lasting_first_purchase_date,
        last_purchase_date as lasting_last_purchase_date
    from lasting_purchase_days
    union all by name
    select
        member_id,
        change_day as day,
        0 as is_evaluation,
        last_login_at
    from logins
    union all by name
    select
        member_id,
        change_day as day,
        0 as is_evaluation,
        last_interaction_date
    from last_interactions
    union all by name
    select
        member_id,
        change_day as day,
        0 as is_evaluation,
        interaction_days_recent
    from recent_interactions
),

{% set carried = ['orders_tier_window', 'spend_tier_window', 'lasting_first_purchase_date',
    'lasting_last_purchase_date', 'last_login_at', 'last_interaction_date', 'interaction_days_recent'] %}
carried as (
    select
        member_id,
        day as as_of_date,
        member_key,
        registered_at,
        paid_level,
        {% for name, lower, upper in purchase_windows %}
        last_value(days_{{ name }} ignore nulls) over so_far as days_{{ name }},
        {% endfor %}
        {% for column in carried %}
        last_value({{ column }} ignore nulls) over so_far as {{ column }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from timeline
    window so_far as (
        partition by member_id order by day, is_evaluation rows between unbounded preceding and current row
    )
    qualify is_evaluation = 1
)

select
    c.as_of_date,
    c.member_id,
    c.member_key,
    c.registered_at,
    c.paid_level,
    least(c.lasting_first_purchase_date, passing.first_purchase_date) as first_purchase_date,
    greatest(c.lasting_last_purchase_date, passing.last_purchase_date) as last_purchase_date,
    {% for name, lower, upper in purchase_windows %}
    cast(coalesce(c.days_{{ name }}, 0) as bigint) as purchase_days_{{ name }},
    {% endfor %}
    cast(coalesce(c.orders_tier_window, 0) as bigint) as orders_tier_window,
    coalesce(c.spend_tier_window, 0) as spend_tier_window,
    c.last_login_at,
    c.last_interaction_date,
    cast(coalesce(c.interaction_days_recent, 0) as bigint) as interaction_days_recent
from carried as c
left join passing_purchase_days as passing
    on c.member_id = passing.member_id and c.as_of_date = passing.as_of_date
