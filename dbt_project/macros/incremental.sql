{#- Incremental models keyed by landing day. Each holds `landing_date` and `loaded_at` (when the
    pipeline loaded the delivery) on every row. A build recomputes every landing day from the earliest
    one that changed upstream since the table was last built: a day (re)loaded after the table's newest
    row, or a day the table holds that upstream no longer has (its files were withdrawn). Days before
    it are kept as they are, so a daily run costs what its new day costs, not what the history costs.
    Both the pre-hook (delete) and the model body call reload_from before anything is deleted, so
    they agree. A full refresh rebuilds everything. -#}

{#- The earliest landing day to recompute, as a 'YYYY-MM-DD' string ('9999-12-31' when nothing changed). -#}
{% macro reload_from(upstream, landing_column='landing_date', loaded_column='loaded_at') -%}
{%- if not execute -%}
    {{ return("9999-12-31") }}
{%- endif -%}
{%- set query -%}
    with kept as (
        select coalesce(max(loaded_at), timestamp '0001-01-01') as watermark from {{ this }}
    )

    select cast(least(
        (select min({{ landing_column }}) from {{ upstream }} where {{ loaded_column }} > (select watermark from kept)),
        (
            select min(landing_date) from {{ this }}
            where landing_date not in (select distinct {{ landing_column }} from {{ upstream }})
        ),
        date '9999-12-31'
    ) as varchar)
{%- endset -%}
{{ return(run_query(query).columns[0].values()[0]) }}
{%- endmacro %}

{#- Pre-hook of such a model: delete its landing days from reload_from on. -#}
{% macro delete_reloaded_days(upstream, landing_column='landing_date', loaded_column='loaded_at') -%}
{%- if is_incremental() -%}
delete from {{ this }} where landing_date >= '{{ reload_from(upstream, landing_column, loaded_column) }}'
{%- endif -%}
{%- endmacro %}

{#- Post-hook of int_order_states: an order none of whose versions is left (its only day withdrawn). -#}
{% macro delete_orders_without_versions() -%}
{%- if is_incremental() -%}
delete from {{ this }} where order_id not in (select order_id from {{ ref('stg_commerce__orders') }})
{%- endif -%}
{%- endmacro %}
