with loaded as (
  {{ stripe_staging('subscription_items', [
      ('id', 'text'), ('subscription', 'text'), ('created', 'timestamp'), ('quantity', 'bigint'),
      ('price', 'json'),
  ]) }}
)

select
  id as subscription_item_id,
  subscription as subscription_id,
  created,
  quantity,
  {{ json_text('price', 'id') }} as price_id,
  {{ json_text('price', 'product') }} as product_id,
  {{ json_text('price', 'nickname') }} as price_nickname,
  lower({{ json_text('price', 'currency') }}) as currency,
  {{ json_bigint('price', 'unit_amount') }} as price_unit_amount,
  {{ json_text('price', 'billing_scheme') }} as price_billing_scheme,
  {{ json_text('price', ['recurring', 'interval']) }} as recurring_interval,
  {{ json_bigint('price', ['recurring', 'interval_count']) }} as recurring_interval_count,
  {{ json_text('price', ['recurring', 'usage_type']) }} as recurring_usage_type
from loaded
