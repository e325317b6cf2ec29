{#- Dated changes of a running aggregate (a running sum, min or max per member ordered by change_day),
    reduced to what the evaluation days can read: each change is moved onto the first evaluation day on
    or after it (a change before the span's first day onto that day), and a change after the last
    evaluation day is dropped. An evaluation day sees exactly the changes it saw before, so the running
    aggregates read on evaluation days are unchanged, and a member has at most one change per
    evaluation day left to sort. `span` is a relation with first_day and last_day; `buckets` maps each
    day of the span (day) to its evaluation day (evaluation_day). -#}
{% macro changes_in_span(changes, day_column, columns, condition=none, span='evaluated_span', buckets='evaluation_buckets') -%}
select
    c.member_id,
    {% for column in columns %}
    c.{{ column }},
    {% endfor %}
    bucket.evaluation_day as change_day
from {{ changes }} as c
cross join {{ span }} as span
inner join {{ buckets }} as bucket on greatest(c.{{ day_column }}, span.first_day) = bucket.day
where c.{{ day_column }} <= span.last_day{% if condition %} and {{ condition }}{% endif %}
{%- endmacro %}
