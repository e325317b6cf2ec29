{#- Dated changes of a running aggregate (a running sum, min or max per member ordered by change_day),
    reduced to what evaluation days in [span.first_day, span.last_day] can read: a change before the
    first day is moved onto it (every evaluation day still sees it) and a change after the last day is
    dropped (none does). The aggregates read on evaluation days are unchanged, and only the span's
    changes are left to sort. `span` is a relation with first_day and last_day. -#}
{% macro changes_in_span(changes, day_column, columns, span='evaluated_span', condition=none) -%}
select
    c.member_id,
    {% for column in columns %}
    c.{{ column }},
    {% endfor %}
    greatest(c.{{ day_column }}, span.first_day) as change_day
from {{ changes }} as c
cross join {{ span }} as span
where c.{{ day_column }} <= span.last_day{% if condition %} and {{ condition }}{% endif %}
{%- endmacro %}
