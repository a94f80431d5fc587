{#- One row per invoice. Definitions: schema.yml. -#}
with invoices as (
  select * from {{ ref('stg_stripe__invoices') }}
),

lines as (
  select
    invoice_id,
    count(*) as line_item_count,
    count(case when subscription_item_id is not null then 1 end) as subscription_line_count,
    count(case when proration then 1 end) as proration_line_count,
    coalesce(sum(quantity), 0) as total_quantity,
    coalesce(sum(amount), 0) as line_amount,
    coalesce(sum(discount_amount), 0) as line_discount_amount
  from {{ ref('stg_stripe__invoice_line_items') }}
  group by invoice_id
),

charges as (
  select * from {{ ref('stg_stripe__charges') }}
),

rows as (
  select
    invoices.invoice_id,
    invoices.invoice_number,
    invoices.created,
    {{ utc_date('invoices.created') }} as created_date,
    invoices.status,
    invoices.billing_reason,
    invoices.collection_method,
    invoices.period_start,
    invoices.period_end,
    invoices.due_date,
    invoices.attempt_count,
    invoices.currency,
    invoices.amount_due,
    invoices.amount_paid,
    invoices.amount_remaining,
    invoices.subtotal,
    invoices.tax,
    invoices.total,
    invoices.discount_amount,
    coalesce(lines.line_item_count, 0) as line_item_count,
    coalesce(lines.subscription_line_count, 0) as subscription_line_count,
    coalesce(lines.proration_line_count, 0) as proration_line_count,
    coalesce(lines.total_quantity, 0) as total_quantity,
    coalesce(lines.line_amount, 0) as line_amount,
    invoices.customer_id,
    coalesce(customers.email, invoices.customer_email) as customer_email,
    customers.name as customer_name,
    invoices.subscription_id,
    subscriptions.status as subscription_status,
    invoices.charge_id,
    charges.status as charge_status,
    charges.amount as charge_amount,
    charges.amount_refunded as charge_amount_refunded,
    charges.created as charge_created
  from invoices
  left join lines
    on lines.invoice_id = invoices.invoice_id
  left join {{ ref('stg_stripe__customers') }} as customers
    on customers.customer_id = invoices.customer_id
  left join {{ ref('stg_stripe__subscriptions') }} as subscriptions
    on subscriptions.subscription_id = invoices.subscription_id
  left join charges
    on charges.charge_id = invoices.charge_id
)

{%- set money = ['amount_due', 'amount_paid', 'amount_remaining', 'subtotal', 'tax', 'total',
                 'discount_amount', 'line_amount', 'charge_amount', 'charge_amount_refunded'] %}
select
  rows.*,
  {%- for column in money %}
  {{ to_major(column, 'currency') }} as {{ column }}_major{{ "," if not loop.last }}
  {%- endfor %}
from rows
