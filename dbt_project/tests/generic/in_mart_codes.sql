{#- Every value is a code of seeds/mart_codes.csv for that mart column (the list the GX mart suites read too).
    `mart` / `mart_column` name the seed rows when the model or column differs (e.g. an intermediate model
    carrying dim_members.value_segment). One failing row per unexpected code. -#}
{% test in_mart_codes(model, column_name, mart=none, mart_column=none) %}
select {{ column_name }} as unexpected_code, count(*) as occurrences
from {{ model }}
where {{ column_name }} is not null
  and {{ column_name }} not in (
    select code from {{ ref('mart_codes') }}
    where model = '{{ mart or model.identifier }}' and column_name = '{{ mart_column or column_name }}'
  )
group by {{ column_name }}
{% endtest %}
