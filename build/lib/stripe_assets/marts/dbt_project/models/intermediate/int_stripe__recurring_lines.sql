{#-
  The invoice lines that carry MRR history: one row per line of a finalized invoice (status
  open, paid or uncollectible; never draft or void) that a subscription item generated
  (subscription_item set), is not a proration, and has a recurring price interval.
  net_amount = amount_excluding_tax (or amount when Stripe gives none) - the line's discounts;
  mrr = monthly_amount(net_amount, interval, interval_count) (macro monthly_amount).
-#}
select
  lines.invoice_id,
  lines.line_item_id,
  lines.subscription_item_id,
  coalesce(lines.subscription_id, invoices.subscription_id) as subscription_id,
  invoices.customer_id,
  lines.currency,
  lines.price_id,
  lines.product_id,
  lines.quantity,
  lines.recurring_interval,
  lines.recurring_interval_count,
  lines.period_start,
  lines.period_end,
  invoices.created as invoice_created,
  coalesce(lines.amount_excluding_tax, lines.amount) - lines.discount_amount as net_amount,
  {{ monthly_amount('coalesce(lines.amount_excluding_tax, lines.amount) - lines.discount_amount',
                    'lines.recurring_interval', 'lines.recurring_interval_count') }} as mrr
from {{ ref('stg_stripe__invoice_line_items') }} as lines
join {{ ref('stg_stripe__invoices') }} as invoices
  on invoices.invoice_id = lines.invoice_id
where lines.subscription_item_id is not null
  and not lines.proration
  and lines.recurring_interval in ('day', 'week', 'month', 'year')
  and lines.period_start is not null
  and lines.period_end is not null
  and invoices.status in ('open', 'paid', 'uncollectible')
