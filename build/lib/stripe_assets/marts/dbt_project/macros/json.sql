{#- Nested Stripe objects are JSON columns (DuckDB json, Postgres jsonb); both read them with
    `->` (a JSON value) and `->>` (its text). -#}
{% macro json_text(column, path) -%}
  {%- set steps = path if path is not string else [path] -%}
  {{ column }}{% for key in steps[:-1] %}->'{{ key }}'{% endfor %}->>'{{ steps[-1] }}'
{%- endmacro %}

{% macro json_bigint(column, path) -%}
  cast({{ json_text(column, path) }} as bigint)
{%- endmacro %}

{#- The sum of `key` over the objects of a JSON list column (0 for an empty or null list),
    optionally only those whose `where_key` is one of `where_values`. -#}
{% macro json_list_sum(column, key, where_key=none, where_values=none) -%}
  {{ return(adapter.dispatch('json_list_sum', 'stripe_marts')(column, key, where_key, where_values)) }}
{%- endmacro %}

{% macro _json_list_filter(where_key, where_values) -%}
  {%- if where_key %} where e->>'{{ where_key }}' in ('{{ where_values | join("', '") }}'){% endif -%}
{%- endmacro %}

{% macro duckdb__json_list_sum(column, key, where_key, where_values) -%}
  (select coalesce(sum(cast(e->>'{{ key }}' as bigint)), 0)
   from unnest(cast(json_extract({{ column }}, '$[*]') as json[])) as t(e)
   {{- _json_list_filter(where_key, where_values) }})
{%- endmacro %}

{% macro default__json_list_sum(column, key, where_key, where_values) -%}
  (select coalesce(sum(cast(e->>'{{ key }}' as bigint)), 0)
   from jsonb_array_elements(
     case when jsonb_typeof({{ column }}) = 'array' then {{ column }} else '[]'::jsonb end
   ) as t(e)
   {{- _json_list_filter(where_key, where_values) }})
{%- endmacro %}
