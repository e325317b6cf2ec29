{{ config(materialized="table") }}
-- The point in time of every mart: RETENTION_DBT_AS_OF_DATE (set by the dbt asset for a run as of a day), or
-- else the latest landed day. An environment variable, not a var: see assets/dbt_command.py.
-- The staging models are dependencies either way, so the graph does not change with it:
-- depends_on: {{ ref('stg_crm__members') }}, {{ ref('stg_commerce__orders') }}
-- depends_on: {{ ref('stg_app__events') }}, {{ ref('stg_service__tickets') }}
{% set configured = env_var('RETENTION_DBT_AS_OF_DATE', '') %}
select
{% if configured %}
    cast('{{ configured }}' as date) as as_of_date
    {% else %}
greatest(
    (select max(landing_date) from {{ ref('stg_crm__members') }}),
    (select max(landing_date) from {{ ref('stg_commerce__orders') }}),
    (select max(landing_date) from {{ ref('stg_app__events') }}),
    (select max(landing_date) from {{ ref('stg_service__tickets') }})
) as as_of_date
{% endif %}
