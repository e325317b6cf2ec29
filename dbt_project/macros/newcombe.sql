{#- Wilson score interval of a proportion x / n at normal quantile z: its lower (sign -1) or upper (sign 1)
    bound; null when n is 0. (x + z²/2) / (n + z²) ± z·sqrt(x(n - x)/n + z²/4) / (n + z²). -#}
{% macro wilson_bound(x, n, z, sign) -%}
(
    ({{ x }} + {{ z }} * {{ z }} / 2.0
        + ({{ sign }}) * {{ z }} * sqrt({{ x }} * ({{ n }} - {{ x }}) / nullif({{ n }}, 0) + {{ z }} * {{ z }} / 4.0))
    / nullif({{ n }} + {{ z }} * {{ z }}, 0) * case when {{ n }} > 0 then 1.0 end
)
{%- endmacro %}

{#- Newcombe's hybrid score interval (1998, method 10) of the difference p1 - p2 of two independent
    proportions x1 / n1 and x2 / n2, from each one's Wilson interval (l, u):
    low = d - sqrt((p1 - l1)² + (u2 - p2)²), high = d + sqrt((u1 - p1)² + (p2 - l2)²). Null when an arm is empty.
    `bound` is 'low' or 'high'. -#}
{% macro newcombe_bound(x1, n1, x2, n2, z, bound) -%}
{%- set p1 -%}({{ x1 }} / nullif({{ n1 }}, 0)){%- endset -%}
{%- set p2 -%}({{ x2 }} / nullif({{ n2 }}, 0)){%- endset -%}
{%- if bound == 'low' -%}
({{ p1 }} - {{ p2 }} - sqrt(
    pow({{ p1 }} - {{ wilson_bound(x1, n1, z, -1) }}, 2) + pow({{ wilson_bound(x2, n2, z, 1) }} - {{ p2 }}, 2)
))
{%- else -%}
({{ p1 }} - {{ p2 }} + sqrt(
    pow({{ wilson_bound(x1, n1, z, 1) }} - {{ p1 }}, 2) + pow({{ p2 }} - {{ wilson_bound(x2, n2, z, -1) }}, 2)
))
{%- endif -%}
{%- endmacro %}
