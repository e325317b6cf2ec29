{#- The model is empty; each of its rows is one failure (with severity warn: a count to look at, not an error). -#}
{% test has_no_rows(model) %}
select * from {{ model }}
{% endtest %}
