with loaded as (
  {{ stripe_staging('refunds', [
      ('id', 'text'), ('charge', 'text'), ('payment_intent', 'text'), ('amount', 'bigint'),
      ('currency', 'text'), ('created', 'timestamp'), ('status', 'text'), ('reason', 'text'),
      ('balance_transaction', 'text'),
  ]) }}
)

select
  id as refund_id,
  charge as charge_id,
  payment_intent as payment_intent_id,
  amount,
  lower(currency) as currency,
  created,
  status,
  reason,
  balance_transaction as balance_transaction_id
from loaded
