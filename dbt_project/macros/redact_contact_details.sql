{#- Free text often carries a customer's phone number or e-mail; analytics never needs them. -#}
{% macro redact_contact_details(column) -%}
regexp_replace(
    regexp_replace({{ column }}, '{{ var("mobile_pattern") }}', '[mobile]', 'g'),
    '{{ var("email_pattern") }}', '[email]', 'g'
)
{%- endmacro %}
