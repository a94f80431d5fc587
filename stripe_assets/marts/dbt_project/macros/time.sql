{#- Every date and month in the marts is a UTC calendar day or month, whatever the session's
    time zone: timestamps (timestamptz) are converted to UTC before truncation. -#}
{% macro utc(ts) -%}
  ({{ ts }} at time zone 'UTC')
{%- endmacro %}

{% macro utc_date(ts) -%}
  cast({{ utc(ts) }} as date)
{%- endmacro %}

{% macro utc_month(ts) -%}
  cast(date_trunc('month', {{ utc(ts) }}) as date)
{%- endmacro %}

{#- The first day of the month after `month_date` (a date), as a date. -#}
{% macro next_month(month_date) -%}
  cast({{ month_date }} + interval '1 month' as date)
{%- endmacro %}

{% macro previous_month(month_date) -%}
  cast({{ month_date }} - interval '1 month' as date)
{%- endmacro %}

{#- "Today" (UTC) for current-month figures: the `as_of` var ('YYYY-MM-DD') or the run's date. -#}
{% macro as_of_date() -%}
  {%- set as_of = var('as_of', none) -%}
  {%- if as_of -%}
    cast('{{ as_of }}' as date)
  {%- else -%}
    cast({{ utc('current_timestamp') }} as date)
  {%- endif -%}
{%- endmacro %}

{% macro as_of_month() -%}
  cast(date_trunc('month', {{ as_of_date() }}) as date)
{%- endmacro %}

{#- The instant `as_of` ends (the next UTC midnight), as a timestamptz. -#}
{% macro as_of_end() -%}
  (cast({{ as_of_date() }} + interval '1 day' as timestamp) at time zone 'UTC')
{%- endmacro %}

{#- The instant a month (a date) ends: the next month's first UTC midnight, as a timestamptz. -#}
{% macro month_end(month_date) -%}
  (cast({{ next_month(month_date) }} as timestamp) at time zone 'UTC')
{%- endmacro %}

{#- A calendar: one row per `step` ('day' or 'month'), column `alias`, from the date `first`
    to the date `last` (both included). A recursive query, the same on DuckDB and Postgres. -#}
{% macro calendar(first, last, step, alias) -%}
  with recursive calendar_steps({{ alias }}) as (
    select cast({{ first }} as date)
    union all
    select cast({{ alias }} + interval '1 {{ step }}' as date)
    from calendar_steps
    where {{ alias }} < cast({{ last }} as date)
  )
  select {{ alias }} from calendar_steps where {{ alias }} is not null
{%- endmacro %}
