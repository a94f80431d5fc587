with loaded as (
  {{ stripe_staging('disputes', [
      ('id', 'text'), ('charge', 'text'), ('payment_intent', 'text'), ('amount', 'bigint'),
      ('currency', 'text'), ('created', 'timestamp'), ('status', 'text'), ('reason', 'text'),
  ]) }}
)

select
  id as dispute_id,
  charge as charge_id,
  payment_intent as payment_intent_id,
  amount,
  lower(currency) as currency,
  created,
  status,
  reason
from loaded
