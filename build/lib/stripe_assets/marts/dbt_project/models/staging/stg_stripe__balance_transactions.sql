with loaded as (
  {{ stripe_staging('balance_transactions', [
      ('id', 'text'), ('type', 'text'), ('reporting_category', 'text'), ('amount', 'bigint'),
      ('fee', 'bigint'), ('net', 'bigint'), ('currency', 'text'), ('created', 'timestamp'),
      ('available_on', 'timestamp'), ('status', 'text'), ('source', 'text'),
      ('description', 'text'), ('exchange_rate', 'double'), ('fee_details', 'json'),
  ]) }}
)

select
  id as balance_transaction_id,
  type as transaction_type,
  reporting_category,
  amount,
  fee,
  net,
  lower(currency) as currency,
  created,
  available_on,
  status,
  source as source_id,
  description,
  exchange_rate,
  {{ json_list_sum('fee_details', 'amount', 'type', ['stripe_fee']) }} as stripe_fee,
  {{ json_list_sum('fee_details', 'amount', 'type', ['application_fee']) }} as application_fee,
  {{ json_list_sum('fee_details', 'amount', 'type', ['tax']) }} as tax_fee
from loaded
