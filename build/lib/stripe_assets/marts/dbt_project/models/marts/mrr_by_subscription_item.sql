{#- One row per subscription item per month in which it has MRR, plus the month after its
    last such month (movement churned). Definitions: schema.yml. -#}
with item_months as (
  select * from {{ ref('int_stripe__item_mrr_history') }}
  union all
  select * from {{ ref('int_stripe__item_mrr_current') }}
),

active as (
  select
    item_months.*,
    lag(month) over by_item as previous_active_month,
    lag(mrr) over by_item as previous_active_mrr,
    lead(month) over by_item as next_active_month
  from item_months
  where mrr > 0
  window by_item as (partition by subscription_item_id order by month)
),

active_rows as (
  select
    month,
    subscription_item_id,
    subscription_id,
    customer_id,
    currency,
    price_id,
    product_id,
    quantity,
    recurring_interval,
    recurring_interval_count,
    mrr,
    case when previous_active_month = {{ previous_month('month') }}
      then previous_active_mrr else 0 end as previous_mrr,
    case
      when previous_active_month is null then 'new'
      when previous_active_month < {{ previous_month('month') }} then 'reactivation'
      when mrr > previous_active_mrr then 'expansion'
      when mrr < previous_active_mrr then 'contraction'
      else 'unchanged'
    end as movement_type,
    mrr_source
  from active
),

churned_rows as (
  select
    {{ next_month('month') }} as month,
    subscription_item_id,
    subscription_id,
    customer_id,
    currency,
    price_id,
    product_id,
    cast(null as bigint) as quantity,
    recurring_interval,
    recurring_interval_count,
    cast(0 as bigint) as mrr,
    mrr as previous_mrr,
    'churned' as movement_type,
    case when {{ next_month('month') }} = {{ as_of_month() }}
      then 'subscription_items' else 'invoice_line_items' end as mrr_source
  from active
  where (next_active_month is null or next_active_month > {{ next_month('month') }})
    and {{ next_month('month') }} <= {{ as_of_month() }}
),

rows as (
  select * from active_rows
  union all
  select * from churned_rows
)

select
  month,
  subscription_item_id,
  subscription_id,
  customer_id,
  currency,
  price_id,
  product_id,
  quantity,
  recurring_interval,
  recurring_interval_count,
  movement_type,
  mrr,
  previous_mrr,
  mrr - previous_mrr as mrr_change,
  12 * mrr as arr,
  {{ to_major('mrr', 'currency') }} as mrr_major,
  {{ to_major('previous_mrr', 'currency') }} as previous_mrr_major,
  {{ to_major('mrr - previous_mrr', 'currency') }} as mrr_change_major,
  {{ to_major('12 * mrr', 'currency') }} as arr_major,
  mrr_source
from rows
