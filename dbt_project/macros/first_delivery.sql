{#- Keep one row per delivered version: among exact copies of the same columns, the copy delivered
    first (earliest landing day, then file and row). Pass the recorded time (recorded_at) rather than a
    raw optional updated_at, so that an export without it that returns a record to an earlier state
    (reopened, refund reversed) is a new version, not a copy of the first one. The earliest copy, not the latest, so that
    filtering on landing_date <= as_of_date later finds the same row whether or not the data runs
    past that date (no look-ahead). Which version of a record is current is decided downstream. -#}
{% macro first_delivery(key_columns) -%}
qualify row_number() over (
    partition by {{ key_columns | join(', ') }}
    order by _landing_date, _source_file, _row_number
) = 1
{%- endmacro %}

{#- When a delivery carries no time of its own, it counts as recorded when it was delivered: on its
    landing day, or at the record's own time if that is later. A later delivery then always
    supersedes an earlier one, and a refund delivered days after the sale keeps its own version. -#}
{% macro recorded_at(updated_at_column, record_time_column) -%}
coalesce({{ updated_at_column }}, greatest({{ record_time_column }}, cast(_landing_date as timestamp)))
{%- endmacro %}
