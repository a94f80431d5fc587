{#- One row per subscription. Definitions: schema.yml. -#}
with subscriptions as (
  select * from {{ ref('stg_stripe__subscriptions') }}
),

items as (
  select
    subscription_id,
    count(*) as item_count,
    coalesce(sum(quantity), 0) as total_quantity,
    min(recurring_interval) as recurring_interval,
    min(recurring_interval_count) as recurring_interval_count,
    min(currency) as item_currency
  from {{ ref('stg_stripe__subscription_items') }}
  group by subscription_id
),

invoices as (
  select
    subscription_id,
    count(*) as invoice_count,
    sum(amount_due) as amount_billed,
    sum(amount_paid) as amount_paid,
    sum(amount_remaining) as amount_remaining,
    min(created) as first_invoice_at,
    max(created) as latest_invoice_at
  from {{ ref('stg_stripe__invoices') }}
  where subscription_id is not null
    and status in ('open', 'paid', 'uncollectible')
  group by subscription_id
),

current_mrr as (
  select subscription_id, sum(mrr) as current_mrr
  from {{ ref('mrr_by_subscription_item') }}
  where month = {{ as_of_month() }}
  group by subscription_id
),

rows as (
  select
    subscriptions.subscription_id,
    subscriptions.customer_id,
    customers.email as customer_email,
    customers.name as customer_name,
    subscriptions.status,
    subscriptions.created,
    subscriptions.start_date,
    subscriptions.current_period_start,
    subscriptions.current_period_end,
    subscriptions.cancel_at_period_end,
    subscriptions.cancel_at,
    subscriptions.canceled_at,
    subscriptions.ended_at,
    subscriptions.trial_start,
    subscriptions.trial_end,
    subscriptions.collection_method,
    subscriptions.latest_invoice_id,
    coalesce(subscriptions.currency, items.item_currency) as currency,
    items.recurring_interval,
    items.recurring_interval_count,
    coalesce(items.item_count, 0) as item_count,
    coalesce(items.total_quantity, 0) as total_quantity,
    coalesce(current_mrr.current_mrr, 0) as current_mrr,
    12 * coalesce(current_mrr.current_mrr, 0) as current_arr,
    coalesce(invoices.invoice_count, 0) as invoice_count,
    coalesce(invoices.amount_billed, 0) as amount_billed,
    coalesce(invoices.amount_paid, 0) as amount_paid,
    coalesce(invoices.amount_remaining, 0) as amount_remaining,
    invoices.first_invoice_at,
    invoices.latest_invoice_at
  from subscriptions
  left join {{ ref('stg_stripe__customers') }} as customers
    on customers.customer_id = subscriptions.customer_id
  left join items
    on items.subscription_id = subscriptions.subscription_id
  left join invoices
    on invoices.subscription_id = subscriptions.subscription_id
  left join current_mrr
    on current_mrr.subscription_id = subscriptions.subscription_id
)

{%- set money = ['current_mrr', 'current_arr', 'amount_billed', 'amount_paid', 'amount_remaining'] %}
select
  rows.*,
  {%- for column in money %}
  {{ to_major(column, 'currency') }} as {{ column }}_major{{ "," if not loop.last }}
  {%- endfor %}
from rows
