with loaded as (
  {{ stripe_staging('subscriptions', [
      ('id', 'text'), ('customer', 'text'), ('status', 'text'), ('created', 'timestamp'),
      ('start_date', 'timestamp'), ('current_period_start', 'timestamp'),
      ('current_period_end', 'timestamp'), ('cancel_at', 'timestamp'),
      ('cancel_at_period_end', 'boolean'), ('canceled_at', 'timestamp'),
      ('ended_at', 'timestamp'), ('trial_start', 'timestamp'), ('trial_end', 'timestamp'),
      ('collection_method', 'text'), ('currency', 'text'), ('latest_invoice', 'text'),
      ('days_until_due', 'bigint'), ('discount', 'json'), ('description', 'text'),
  ]) }}
)

select
  id as subscription_id,
  customer as customer_id,
  status,
  created,
  start_date,
  current_period_start,
  current_period_end,
  cancel_at,
  coalesce(cancel_at_period_end, false) as cancel_at_period_end,
  canceled_at,
  ended_at,
  trial_start,
  trial_end,
  collection_method,
  lower(currency) as currency,
  latest_invoice as latest_invoice_id,
  days_until_due,
  cast({{ json_text('discount', ['coupon', 'percent_off']) }} as decimal(38, 6)) as discount_percent_off,
  {{ json_bigint('discount', ['coupon', 'amount_off']) }} as discount_amount_off,
  to_timestamp({{ json_bigint('discount', 'end') }}) as discount_end,
  description
from loaded
