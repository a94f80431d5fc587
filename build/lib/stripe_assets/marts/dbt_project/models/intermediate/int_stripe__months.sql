{#- Every UTC month from the earliest of (first recurring line's period start, first
    subscription item) to the as_of month; just the as_of month when there is neither. -#}
with bounds as (
  select least(
    (select min({{ utc_month('period_start') }}) from {{ ref('int_stripe__recurring_lines') }}),
    (select min({{ utc_month('created') }}) from {{ ref('stg_stripe__subscription_items') }}),
    {{ as_of_month() }}
  ) as first_month
)

select months.month
from ({{ calendar('(select first_month from bounds)', as_of_month(), 'month', 'month') }}) as months
