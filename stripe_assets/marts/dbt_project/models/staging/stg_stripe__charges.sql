with loaded as (
  {{ stripe_staging('charges', [
      ('id', 'text'), ('created', 'timestamp'), ('amount', 'bigint'),
      ('amount_captured', 'bigint'), ('amount_refunded', 'bigint'), ('currency', 'text'),
      ('customer', 'text'), ('invoice', 'text'), ('payment_intent', 'text'),
      ('balance_transaction', 'text'), ('status', 'text'), ('paid', 'boolean'),
      ('captured', 'boolean'), ('refunded', 'boolean'), ('disputed', 'boolean'),
      ('failure_code', 'text'), ('failure_message', 'text'), ('description', 'text'),
  ]) }}
)

select
  id as charge_id,
  created,
  amount,
  amount_captured,
  amount_refunded,
  lower(currency) as currency,
  customer as customer_id,
  invoice as invoice_id,
  payment_intent as payment_intent_id,
  balance_transaction as balance_transaction_id,
  status,
  paid,
  captured,
  refunded,
  disputed,
  failure_code,
  failure_message,
  description
from loaded
