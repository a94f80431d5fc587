with loaded as (
  {{ stripe_staging('customers', [
      ('id', 'text'), ('created', 'timestamp'), ('email', 'text'), ('name', 'text'),
      ('description', 'text'), ('currency', 'text'), ('balance', 'bigint'),
      ('delinquent', 'boolean'),
  ]) }}
)

select
  id as customer_id,
  created,
  email,
  name,
  description,
  lower(currency) as currency,
  balance,
  delinquent
from loaded
