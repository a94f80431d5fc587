with loaded as (
  {{ stripe_staging('payout_transactions', [
      ('payout_id', 'text'), ('id', 'text'), ('type', 'text'), ('reporting_category', 'text'),
      ('amount', 'bigint'), ('fee', 'bigint'), ('net', 'bigint'), ('currency', 'text'),
      ('created', 'timestamp'), ('available_on', 'timestamp'), ('source', 'text'),
      ('status', 'text'),
  ]) }}
)

select
  payout_id,
  id as balance_transaction_id,
  type as transaction_type,
  reporting_category,
  amount,
  fee,
  net,
  lower(currency) as currency,
  created,
  available_on,
  source as source_id,
  status
from loaded
