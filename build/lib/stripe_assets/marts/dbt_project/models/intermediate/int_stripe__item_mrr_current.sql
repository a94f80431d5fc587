{#-
  MRR of each subscription item in the as_of month, from today's subscription items.
  Items count when their subscription's status is active or past_due (trialing, incomplete,
  incomplete_expired, unpaid, paused and canceled subscriptions have no MRR).
  period amount = price.unit_amount x quantity, less the subscription's discount while it
  lasts (discount.end null or after as_of): percent_off applies to every item; amount_off is
  shared between the items in proportion to their period amounts; never below 0.
  mrr = monthly_amount(period amount, interval, interval_count). Items without a unit amount
  or quantity (tiered or metered prices) take the MRR of their latest recurring invoice line.
-#}
with items as (
  select
    items.*,
    subscriptions.customer_id,
    case when subscriptions.discount_end is null or subscriptions.discount_end > {{ as_of_end() }}
      then coalesce(subscriptions.discount_percent_off, 0) else 0 end as percent_off,
    case when subscriptions.discount_end is null or subscriptions.discount_end > {{ as_of_end() }}
      then coalesce(subscriptions.discount_amount_off, 0) else 0 end as amount_off,
    case when coalesce(items.recurring_usage_type, 'licensed') = 'licensed'
      then items.price_unit_amount * items.quantity end as period_amount
  from {{ ref('stg_stripe__subscription_items') }} as items
  join {{ ref('stg_stripe__subscriptions') }} as subscriptions
    on subscriptions.subscription_id = items.subscription_id
  where subscriptions.status in ('active', 'past_due')
    and items.recurring_interval in ('day', 'week', 'month', 'year')
),

shares as (
  select
    items.*,
    sum(period_amount) over (partition by subscription_id) as subscription_period_amount
  from items
),

latest_lines as (
  select subscription_item_id, mrr
  from (
    select
      subscription_item_id,
      mrr,
      row_number() over (
        partition by subscription_item_id
        order by period_start desc, invoice_created desc, invoice_id desc, line_item_id desc
      ) as pick
    from {{ ref('int_stripe__recurring_lines') }}
  ) as ranked
  where pick = 1
)

select
  {{ as_of_month() }} as month,
  shares.subscription_item_id,
  shares.subscription_id,
  shares.customer_id,
  shares.currency,
  shares.price_id,
  shares.product_id,
  shares.quantity,
  shares.recurring_interval,
  shares.recurring_interval_count,
  case
    when shares.period_amount is null then coalesce(latest_lines.mrr, 0)
    else {{ monthly_amount(
      'greatest(0, cast(shares.period_amount as decimal(38, 6)) * (100 - shares.percent_off) / 100'
      ~ ' - coalesce(cast(shares.amount_off as decimal(38, 6)) * shares.period_amount'
      ~ ' / nullif(shares.subscription_period_amount, 0), 0))',
      'shares.recurring_interval', 'shares.recurring_interval_count') }}
  end as mrr,
  'subscription_items' as mrr_source
from shares
left join latest_lines
  on latest_lines.subscription_item_id = shares.subscription_item_id
