-- The days the risk and KPI history is computed for, one row each: from the history_from var (a
-- range run passes its first day) through the as-of day; just the as-of day when history_from is
-- empty; every landed day on a full refresh, so that rebuilding the history does not erase it.
{% set history_from = var('history_from') %}
with bounds as (
    select
        {% if flags.FULL_REFRESH %}
        (select min(landing_date) from {{ ref('stg_crm__members') }}) as first_day,
        {% elif history_from %}
        greatest(
            cast('{{ history_from }}' as date),
            (select min(landing_date) from {{ ref('stg_crm__members') }})
        ) as first_day,
        {% else %}
        {{ as_of_date() }} as first_day,
        {% endif %}
        {{ as_of_date() }} as last_day
)

select cast(unnest(generate_series(first_day, last_day, interval 1 day)) as date) as as_of_date
from bounds
