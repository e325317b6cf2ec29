{#- True for each row of seeds/tiers.csv (aliased `tiers`) that a member reaches: by trailing net
    spend or by paid level. A member's tier is the highest rank reached. -#}
{% macro reaches_tier(trailing_spend, paid_level, tiers='tiers') -%}
({{ trailing_spend }} >= {{ tiers }}.min_trailing_spend or {{ paid_level }} >= {{ tiers }}.min_paid_level)
{%- endmacro %}
