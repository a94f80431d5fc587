{#-
  MRR of each subscription item in each month before the as_of month, from its invoice lines.
  A line covers month M when its period contains the last instant of M:
      period_start < end of M <= period_end        (end of M = first instant of M + 1)
  i.e. MRR is measured at each month's end. When several lines of one item cover M, the one
  with the latest period_start wins (then the latest invoice, then the largest ids).
-#}
with months as (
  select month, {{ month_end('month') }} as month_end
  from {{ ref('int_stripe__months') }}
  where month < {{ as_of_month() }}
),

covering as (
  select
    months.month,
    lines.*,
    row_number() over (
      partition by lines.subscription_item_id, months.month
      order by lines.period_start desc, lines.invoice_created desc, lines.invoice_id desc,
        lines.line_item_id desc
    ) as pick
  from {{ ref('int_stripe__recurring_lines') }} as lines
  join months
    on lines.period_start < months.month_end
    and lines.period_end >= months.month_end
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
  mrr,
  'invoice_line_items' as mrr_source
from covering
where pick = 1
