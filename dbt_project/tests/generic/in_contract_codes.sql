{#- Every value is a code the landing contract accepts for that column (seed contract_codes). -#}
{% test in_contract_codes(model, column_name, source_name, contract_column=none) %}
select {{ column_name }} as unexpected_code
from {{ model }}
where {{ column_name }} is not null
  and {{ column_name }} not in (
    select code from {{ ref('contract_codes') }}
    where source = '{{ source_name }}' and column_name = '{{ contract_column or column_name }}'
  )
{% endtest %}
