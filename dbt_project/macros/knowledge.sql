{#- True for a row of a *_states model (known_from / known_to) that is what was known at the end of `day`. -#}
{% macro known_on(alias, day) -%}
({{ alias }}.known_from <= {{ day }} and ({{ alias }}.known_to is null or {{ day }} < {{ alias }}.known_to))
{%- endmacro %}

{#- The order in which delivered versions of one record supersede each other: the later recorded
    time, then the later landing day, file and row. -#}
{% macro latest_version_first(alias='') -%}
{%- set p = alias ~ '.' if alias else '' -%}
{{ p }}status_at desc, {{ p }}landing_date desc, {{ p }}source_file desc, {{ p }}source_row_number desc
{%- endmacro %}

{#- One row per record and day on which what is known about it changed: the winning version among
    all versions known by that day, as one whole row, valid until the next such day (known_to,
    exclusive; null = still current). `versions` must carry record_key and known_from. -#}
{% macro states_from_versions(versions, record_key, order_by) -%}
knowledge_days as (
    select distinct {{ record_key }}, known_from as state_day from {{ versions }}
),

winning as (
    select d.state_day, v.* exclude (known_from)
    from knowledge_days as d
    inner join {{ versions }} as v
        on v.{{ record_key }} = d.{{ record_key }} and v.known_from <= d.state_day
    qualify row_number() over (partition by d.{{ record_key }}, d.state_day order by {{ order_by }}) = 1
),

states as (
    select
        * exclude (state_day),
        state_day as known_from,
        lead(state_day) over (partition by {{ record_key }} order by state_day) as known_to
    from winning
)
{%- endmacro %}
