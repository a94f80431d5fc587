{#- One row per customer and currency. Definitions: schema.yml. -#}
{%- set this_month = as_of_month() %}
with transactions as (
  select
    transactions.*,
    {{ utc_month('transactions.created') }} = {{ this_month }} as in_this_month
  from {{ ref('balance_transaction_details') }} as transactions
  where transactions.customer_id is not null
    and transactions.created < {{ as_of_end() }}
),

by_currency as (
  select
    customer_id,
    currency,
    sum(case when category = 'charge' then amount else 0 end) as sales_amount,
    count(case when category = 'charge' then 1 end) as sales_count,
    sum(case when category in ('refund', 'refund_failure') then amount else 0 end) as refund_amount,
    count(case when category = 'refund' then 1 end) as refund_count,
    sum(case when category in ('dispute', 'dispute_reversal') then amount else 0 end) as dispute_amount,
    sum(fee) as fee_amount,
    sum(net) as net_amount,
    sum(case when in_this_month and category = 'charge' then amount else 0 end) as sales_amount_this_month,
    count(case when in_this_month and category = 'charge' then 1 end) as sales_count_this_month,
    sum(case when in_this_month and category in ('refund', 'refund_failure') then amount else 0 end)
      as refund_amount_this_month,
    sum(case when in_this_month then fee else 0 end) as fee_amount_this_month,
    sum(case when in_this_month then net else 0 end) as net_amount_this_month,
    min(case when category = 'charge' then created end) as first_sale_at,
    max(case when category = 'charge' then created end) as latest_sale_at
  from transactions
  group by customer_id, currency
),

failed as (
  select
    customer_id,
    currency,
    count(*) as failed_charge_count,
    sum(amount) as failed_charge_amount,
    count(case when {{ utc_month('created') }} = {{ this_month }} then 1 end)
      as failed_charge_count_this_month,
    sum(case when {{ utc_month('created') }} = {{ this_month }} then amount else 0 end)
      as failed_charge_amount_this_month
  from {{ ref('stg_stripe__charges') }}
  where status = 'failed'
    and customer_id is not null
    and created < {{ as_of_end() }}
  group by customer_id, currency
),

customers as (
  select * from {{ ref('stg_stripe__customers') }}
),

keys as (
  select customer_id, currency from by_currency
  union
  select customer_id, currency from failed
  union
  {# A customer with no activity at all: one row in its default currency (may be null). #}
  select customer_id, currency
  from customers
  where customer_id not in (select customer_id from by_currency)
    and customer_id not in (select customer_id from failed)
),

rows as (
  select
    keys.customer_id,
    keys.currency,
    customers.email,
    customers.name,
    customers.created as customer_created,
    coalesce(by_currency.sales_amount, 0) as sales_amount,
    coalesce(by_currency.sales_count, 0) as sales_count,
    coalesce(by_currency.refund_amount, 0) as refund_amount,
    coalesce(by_currency.refund_count, 0) as refund_count,
    coalesce(by_currency.dispute_amount, 0) as dispute_amount,
    coalesce(by_currency.fee_amount, 0) as fee_amount,
    coalesce(by_currency.net_amount, 0) as net_amount,
    coalesce(by_currency.sales_amount_this_month, 0) as sales_amount_this_month,
    coalesce(by_currency.sales_count_this_month, 0) as sales_count_this_month,
    coalesce(by_currency.refund_amount_this_month, 0) as refund_amount_this_month,
    coalesce(by_currency.fee_amount_this_month, 0) as fee_amount_this_month,
    coalesce(by_currency.net_amount_this_month, 0) as net_amount_this_month,
    coalesce(failed.failed_charge_count, 0) as failed_charge_count,
    coalesce(failed.failed_charge_amount, 0) as failed_charge_amount,
    coalesce(failed.failed_charge_count_this_month, 0) as failed_charge_count_this_month,
    coalesce(failed.failed_charge_amount_this_month, 0) as failed_charge_amount_this_month,
    by_currency.first_sale_at,
    by_currency.latest_sale_at
  from keys
  left join customers
    on customers.customer_id = keys.customer_id
  left join by_currency
    on by_currency.customer_id = keys.customer_id
    and by_currency.currency is not distinct from keys.currency
  left join failed
    on failed.customer_id = keys.customer_id
    and failed.currency is not distinct from keys.currency
)

{%- set money = ['sales_amount', 'refund_amount', 'dispute_amount', 'fee_amount', 'net_amount',
                 'sales_amount_this_month', 'refund_amount_this_month', 'fee_amount_this_month',
                 'net_amount_this_month', 'failed_charge_amount',
                 'failed_charge_amount_this_month'] %}
select
  rows.*,
  {%- for column in money %}
  {{ to_major(column, 'currency') }} as {{ column }}_major{{ "," if not loop.last }}
  {%- endfor %}
from rows
