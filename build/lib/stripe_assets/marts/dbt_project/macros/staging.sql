{#-
  `select` of the named columns of a loaded Stripe table, each cast to the type the marts expect.

  The loads keep Stripe's shape: a field that no loaded object carries has no column (yet), a
  Unix-seconds field the table registry does not hint is a bigint, and a table nobody loaded
  yet does not exist. The marts should neither fail nor guess on that, so this macro looks at
  the table when the model runs and
    - casts an existing column to the kind asked for (a bigint to a timestamp via
      to_timestamp, text to JSON, ...);
    - gives a typed null for a missing column;
    - reads no rows (with a dbt warning naming the table) when the table does not exist.
  The dbt source is always declared, so the lineage shows `stripe/<table>` -> marts.

  columns: a list of (name, kind), kind one of text, bigint, boolean, timestamp, json, double.
-#}
{% macro stripe_staging(table, columns) -%}
  {%- set relation = source('stripe', table) -%}
  {%- set existing = {} -%}
  {%- set loaded = [true] -%}
  {%- if execute -%}
    {%- set found = adapter.get_relation(
        database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
    {%- if found is none -%}
      {%- do loaded.pop() -%}
      {%- do loaded.append(false) -%}
      {%- do exceptions.warn(
          "stripe." ~ table ~ " is not loaded yet: the marts read it as empty. Materialize "
          ~ "the asset stripe/" ~ table ~ " to fill them.") -%}
    {%- else -%}
      {%- for column in adapter.get_columns_in_relation(found) -%}
        {%- do existing.update({column.name | lower: column.dtype | lower}) -%}
      {%- endfor -%}
    {%- endif -%}
  {%- endif -%}
  select
  {%- for name, kind in columns %}
    {{ stripe_typed_column(name, kind, existing.get(name)) }} as {{ adapter.quote(name) }}{{ "," if not loop.last }}
  {%- endfor %}
  {%- if loaded[0] %}
  from {{ relation }}
  {%- else %}
  from (select 1 as placeholder) as not_loaded where 1 = 0
  {%- endif %}
{%- endmacro %}

{% macro stripe_type(kind) -%}
  {{ return(adapter.dispatch('stripe_type', 'stripe_marts')(kind)) }}
{%- endmacro %}

{% macro default__stripe_type(kind) -%}
  {{ return({'text': 'text', 'bigint': 'bigint', 'boolean': 'boolean', 'timestamp': 'timestamptz',
             'json': 'jsonb', 'double': 'double precision'}[kind]) }}
{%- endmacro %}

{% macro duckdb__stripe_type(kind) -%}
  {{ return({'text': 'varchar', 'bigint': 'bigint', 'boolean': 'boolean', 'timestamp': 'timestamptz',
             'json': 'json', 'double': 'double'}[kind]) }}
{%- endmacro %}

{#- `name` as `kind`, given the column's loaded type (none: the column does not exist). -#}
{% macro stripe_typed_column(name, kind, loaded_type) -%}
  {%- set target = stripe_type(kind) -%}
  {%- set numeric = ['bigint', 'integer', 'int', 'smallint', 'hugeint', 'double', 'real', 'float', 'numeric', 'decimal'] -%}
  {%- set is_numeric = loaded_type is not none and (loaded_type.split('(')[0] | trim) in numeric + ['double precision'] -%}
  {%- if loaded_type is none -%}
    cast(null as {{ target }})
  {%- elif kind == 'timestamp' and 'timestamp' in loaded_type -%}
    {%- if 'time zone' in loaded_type or loaded_type == 'timestamptz' -%}
      {{ adapter.quote(name) }}
    {%- else -%}
      ({{ adapter.quote(name) }} at time zone 'UTC')
    {%- endif -%}
  {%- elif kind == 'timestamp' and is_numeric -%}
    to_timestamp({{ adapter.quote(name) }})
  {%- elif kind == 'timestamp' -%}
    to_timestamp(cast({{ adapter.quote(name) }} as bigint))
  {%- elif kind == 'json' and loaded_type in ('json', 'jsonb') -%}
    {{ adapter.quote(name) }}
  {%- else -%}
    cast({{ adapter.quote(name) }} as {{ target }})
  {%- endif -%}
{%- endmacro %}
