{{ config(materialized="table") }}
-- The point in time of every mart: the as_of_date var, or else the latest landed day.
-- The staging models are dependencies either way, so the graph does not change with the var:
-- depends_on: {{ ref('stg_crm__members') }}, {{ ref('stg_commerce__orders') }}
-- depends_on: {{ ref('stg_app__events') }}, {{ ref('stg_service__tickets') }}
{% set configured = var('as_of_date') %}
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
