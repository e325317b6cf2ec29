{#- The as-of date every mart is computed for, as a scalar SQL expression. -#}
{% macro as_of_date() -%}
(select as_of_date from {{ ref('int_as_of_date') }})
{%- endmacro %}

{#- True for a fact known by the end of the as-of day: delivered by then and stamped no later. -#}
{% macro known_as_of(landing_date_column, time_column) -%}
({{ landing_date_column }} <= {{ as_of_date() }} and {{ time_column }} < {{ as_of_date() }} + interval 1 day)
{%- endmacro %}

{#- Pseudonymous member key: stable for a salt, not reversible without it (RETENTION_MEMBER_KEY_SALT). -#}
{% macro member_key(member_id_column) -%}
substr(sha256('{{ env_var("RETENTION_MEMBER_KEY_SALT", "local-development-salt") }}' || '|' || {{ member_id_column }}), 1, 20)
{%- endmacro %}
