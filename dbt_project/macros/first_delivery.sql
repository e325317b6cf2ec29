{#- Keep one row per business key: the copy delivered first (earliest landing day, then file and
    row). The earliest copy, not the latest, so that filtering on landing_date <= as_of_date later
    finds the same row whether or not the data runs past that date (no look-ahead). -#}
{% macro first_delivery(key_columns) -%}
qualify row_number() over (
    partition by {{ key_columns | join(', ') }}
    order by _landing_date, _source_file, _row_number
) = 1
{%- endmacro %}
