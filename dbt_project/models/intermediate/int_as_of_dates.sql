-- The days the risk and KPI history is computed for, one row each: from RETENTION_DBT_HISTORY_FROM (a
-- range run passes its first day) through RETENTION_DBT_HISTORY_THROUGH or else the as-of day; just the
-- as-of day when history_from is empty (environment variables, not vars: see assets/dbt_command.py); every landed day on a full refresh without history_from, so
-- that rebuilding the history does not erase it. Never more than the last history_max_days days (when
-- it is above 0).
-- The first delivery bounds the history only on some branches below; the dependency is declared for all,
-- so a parse made under other settings (dbt re-parses a file only when its variables change, not on
-- --full-refresh) never lacks it:
-- depends_on: {{ ref('stg_crm__members') }}
{% set history_from = env_var('RETENTION_DBT_HISTORY_FROM', '') %}
{% set history_through = env_var('RETENTION_DBT_HISTORY_THROUGH', '') %}
{% set history_max_days = var('history_max_days') | int %}
with requested as (
    select
        {% if history_from %}
        greatest(
            cast('{{ history_from }}' as date),
            (select min(landing_date) from {{ ref('stg_crm__members') }})
        ) as first_day,
        {% elif flags.FULL_REFRESH %}
        (select min(landing_date) from {{ ref('stg_crm__members') }}) as first_day,
        {% else %}
        {{ as_of_date() }} as first_day,
        {% endif %}
        {% if history_through %}
        least(cast('{{ history_through }}' as date), {{ as_of_date() }}) as last_day
        {% else %}
        {{ as_of_date() }} as last_day
        {% endif %}
),

bounds as (
    select
        {% if history_max_days > 0 %}
        greatest(first_day, last_day - {{ history_max_days - 1 }}) as first_day,
        {% else %}
        first_day,
        {% endif %}
        last_day
    from requested
)

select cast(unnest(generate_series(first_day, last_day, interval 1 day)) as date) as as_of_date
from bounds
