{#- Keep one row per business key: the copy delivered last (latest landing day, then file and row). -#}
{% macro latest_delivery(key_columns) -%}
qualify row_number() over (
    partition by {{ key_columns | join(', ') }}
    order by _landing_date desc, _source_file desc, _row_number desc
) = 1
{%- endmacro %}
