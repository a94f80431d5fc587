with loaded as (
  {{ stripe_staging('invoice_line_items', [
      ('invoice', 'text'), ('id', 'text'), ('type', 'text'), ('subscription', 'text'),
      ('subscription_item', 'text'), ('invoice_item', 'text'), ('amount', 'bigint'),
      ('amount_excluding_tax', 'bigint'), ('currency', 'text'), ('quantity', 'bigint'),
      ('proration', 'boolean'), ('discount_amounts', 'json'), ('price', 'json'),
      ('period', 'json'), ('description', 'text'),
  ]) }}
)

select
  invoice as invoice_id,
  id as line_item_id,
  type as line_type,
  subscription as subscription_id,
  subscription_item as subscription_item_id,
  invoice_item as invoice_item_id,
  amount,
  amount_excluding_tax,
  {{ json_list_sum('discount_amounts', 'amount') }} as discount_amount,
  lower(currency) as currency,
  quantity,
  coalesce(proration, false) as proration,
  {{ json_text('price', 'id') }} as price_id,
  {{ json_text('price', 'product') }} as product_id,
  {{ json_text('price', 'nickname') }} as price_nickname,
  {{ json_bigint('price', 'unit_amount') }} as price_unit_amount,
  {{ json_text('price', ['recurring', 'interval']) }} as recurring_interval,
  {{ json_bigint('price', ['recurring', 'interval_count']) }} as recurring_interval_count,
  {{ json_text('price', ['recurring', 'usage_type']) }} as recurring_usage_type,
  to_timestamp({{ json_bigint('period', 'start') }}) as period_start,
  to_timestamp({{ json_bigint('period', 'end') }}) as period_end,
  description
from loaded
