with loaded as (
  {{ stripe_staging('invoices', [
      ('id', 'text'), ('number', 'text'), ('created', 'timestamp'), ('customer', 'text'),
      ('subscription', 'text'), ('charge', 'text'), ('status', 'text'),
      ('billing_reason', 'text'), ('collection_method', 'text'), ('currency', 'text'),
      ('amount_due', 'bigint'), ('amount_paid', 'bigint'), ('amount_remaining', 'bigint'),
      ('subtotal', 'bigint'), ('tax', 'bigint'), ('total', 'bigint'),
      ('total_discount_amounts', 'json'), ('period_start', 'timestamp'),
      ('period_end', 'timestamp'), ('due_date', 'timestamp'), ('attempt_count', 'bigint'),
      ('description', 'text'), ('customer_email', 'text'),
  ]) }}
)

select
  id as invoice_id,
  number as invoice_number,
  created,
  customer as customer_id,
  subscription as subscription_id,
  charge as charge_id,
  status,
  billing_reason,
  collection_method,
  lower(currency) as currency,
  amount_due,
  amount_paid,
  amount_remaining,
  subtotal,
  tax,
  total,
  {{ json_list_sum('total_discount_amounts', 'amount') }} as discount_amount,
  period_start,
  period_end,
  due_date,
  attempt_count,
  description,
  customer_email
from loaded
