with loaded as (
  {{ stripe_staging('payouts', [
      ('id', 'text'), ('created', 'timestamp'), ('arrival_date', 'timestamp'),
      ('amount', 'bigint'), ('currency', 'text'), ('status', 'text'), ('automatic', 'boolean'),
      ('type', 'text'), ('method', 'text'), ('balance_transaction', 'text'),
      ('description', 'text'),
  ]) }}
)

select
  id as payout_id,
  created,
  arrival_date,
  amount,
  lower(currency) as currency,
  status,
  automatic,
  type as payout_type,
  method,
  balance_transaction as balance_transaction_id,
  description
from loaded
