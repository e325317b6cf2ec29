{#- Tests on the big incremental tables check the rows this build wrote, not the whole history again
    (every earlier day was checked by the build that wrote it). Such a test sets
    `where: "<day column> >= __first_day_built__"`; the placeholder becomes the first day a build can
    write: RETENTION_DBT_HISTORY_FROM (a range run's first day), else RETENTION_DBT_AS_OF_DATE, else - a full
    refresh, or a build without vars - the beginning of time, so everything is checked.
    (dbt's documented hook for custom `where` logic: get_where_subquery.) -#}
{% macro get_where_subquery(relation) -%}
{%- set where = config.get('where') -%}
{%- if where -%}
    {%- if '__first_day_built__' in where -%}
        {%- set where = where | replace('__first_day_built__', "date '" ~ first_day_built() ~ "'") -%}
    {%- endif -%}
    {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') as dbt_subquery') -%}
{%- else -%}
    {%- do return(relation) -%}
{%- endif -%}
{%- endmacro %}

{% macro first_day_built() -%}
{%- if flags.FULL_REFRESH -%}
    {{ return('0001-01-01') }}
{%- endif -%}
{{ return(env_var('RETENTION_DBT_HISTORY_FROM', '') or env_var('RETENTION_DBT_AS_OF_DATE', '') or '0001-01-01') }}
{%- endmacro %}
