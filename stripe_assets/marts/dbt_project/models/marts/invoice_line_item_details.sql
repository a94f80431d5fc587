{#- One row per invoice line. Definitions: schema.yml. -#}
with lines as (
  select * from {{ ref('stg_stripe__invoice_line_items') }}
),

invoices as (
  select * from {{ ref('stg_stripe__invoices') }}
),

with_amounts as (
  select
    lines.*,
    lines.amount - lines.discount_amount as amount_after_discounts,
    coalesce(lines.amount_excluding_tax, lines.amount) - lines.discount_amount as net_amount,
    lines.recurring_interval is not null as is_recurring
  from lines
)

select
  with_amounts.invoice_id,
  with_amounts.line_item_id,
  with_amounts.line_type,
  with_amounts.subscription_id,
  with_amounts.subscription_item_id,
  with_amounts.invoice_item_id,
  with_amounts.price_id,
  with_amounts.product_id,
  with_amounts.price_nickname,
  with_amounts.price_unit_amount,
  with_amounts.recurring_interval,
  with_amounts.recurring_interval_count,
  with_amounts.recurring_usage_type,
  with_amounts.is_recurring,
  with_amounts.proration,
  with_amounts.quantity,
  with_amounts.currency,
  with_amounts.amount,
  with_amounts.discount_amount,
  with_amounts.amount_after_discounts,
  with_amounts.amount_excluding_tax,
  with_amounts.net_amount,
  case when with_amounts.is_recurring and not with_amounts.proration
      and with_amounts.subscription_item_id is not null
    then {{ monthly_amount('with_amounts.net_amount', 'with_amounts.recurring_interval',
                           'with_amounts.recurring_interval_count') }}
  end as monthly_amount,
  with_amounts.period_start,
  with_amounts.period_end,
  with_amounts.description,
  invoices.invoice_number,
  invoices.created as invoice_created,
  invoices.status as invoice_status,
  invoices.customer_id,
  invoices.billing_reason,
  {{ to_major('with_amounts.price_unit_amount', 'with_amounts.currency') }} as price_unit_amount_major,
  {{ to_major('with_amounts.amount', 'with_amounts.currency') }} as amount_major,
  {{ to_major('with_amounts.discount_amount', 'with_amounts.currency') }} as discount_amount_major,
  {{ to_major('with_amounts.amount_after_discounts', 'with_amounts.currency') }} as amount_after_discounts_major,
  {{ to_major('with_amounts.amount_excluding_tax', 'with_amounts.currency') }} as amount_excluding_tax_major,
  {{ to_major('with_amounts.net_amount', 'with_amounts.currency') }} as net_amount_major
from with_amounts
left join invoices
  on invoices.invoice_id = with_amounts.invoice_id
