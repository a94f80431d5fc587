{#- One row per UTC day and currency, from the currency's first day with activity to the
    later of its last such day and as_of. Definitions: schema.yml. -#}
{%- set payout_categories = "('payout', 'payout_reversal')" %}
with transactions as (
  select * from {{ ref('balance_transaction_details') }}
),

by_day as (
  select
    currency,
    created_date as day,
    sum(case when category = 'charge' then amount else 0 end) as charge_amount,
    count(case when category = 'charge' then 1 end) as charge_count,
    sum(case when category in ('refund', 'refund_failure') then amount else 0 end) as refund_amount,
    count(case when category = 'refund' then 1 end) as refund_count,
    sum(case when category in ('dispute', 'dispute_reversal') then amount else 0 end) as dispute_amount,
    count(case when category = 'dispute' then 1 end) as dispute_count,
    sum(case when category not in ('charge', 'refund', 'refund_failure', 'dispute',
      'dispute_reversal', 'payout', 'payout_reversal') then amount else 0 end) as other_amount,
    sum(case when category not in {{ payout_categories }} then amount else 0 end) as activity_amount,
    sum(case when category not in {{ payout_categories }} then fee else 0 end) as fee_amount,
    sum(case when category not in {{ payout_categories }} then net else 0 end) as activity_net,
    sum(case when category in {{ payout_categories }} then net else 0 end) as payout_amount,
    count(case when category = 'payout' then 1 end) as payout_count,
    sum(net) as balance_change
  from transactions
  group by currency, created_date
),

failed as (
  select
    currency,
    {{ utc_date('created') }} as day,
    count(*) as failed_charge_count,
    sum(amount) as failed_charge_amount
  from {{ ref('stg_stripe__charges') }}
  where status = 'failed'
  group by currency, {{ utc_date('created') }}
),

activity_days as (
  select currency, day from by_day
  union
  select currency, day from failed
),

bounds as (
  select currency, min(day) as first_day, greatest(max(day), {{ as_of_date() }}) as last_day
  from activity_days
  group by currency
),

days as (
  {{ calendar('(select min(first_day) from bounds)', '(select max(last_day) from bounds)', 'day', 'day') }}
),

calendar as (
  select bounds.currency, days.day
  from bounds
  join days
    on days.day between bounds.first_day and bounds.last_day
),

filled as (
  select
    calendar.day,
    calendar.currency,
    coalesce(by_day.charge_amount, 0) as charge_amount,
    coalesce(by_day.charge_count, 0) as charge_count,
    coalesce(by_day.refund_amount, 0) as refund_amount,
    coalesce(by_day.refund_count, 0) as refund_count,
    coalesce(by_day.dispute_amount, 0) as dispute_amount,
    coalesce(by_day.dispute_count, 0) as dispute_count,
    coalesce(by_day.other_amount, 0) as other_amount,
    coalesce(by_day.activity_amount, 0) as activity_amount,
    coalesce(by_day.fee_amount, 0) as fee_amount,
    coalesce(by_day.activity_net, 0) as activity_net,
    coalesce(by_day.payout_amount, 0) as payout_amount,
    coalesce(by_day.payout_count, 0) as payout_count,
    coalesce(by_day.balance_change, 0) as balance_change,
    coalesce(failed.failed_charge_count, 0) as failed_charge_count,
    coalesce(failed.failed_charge_amount, 0) as failed_charge_amount
  from calendar
  left join by_day
    on by_day.currency = calendar.currency and by_day.day = calendar.day
  left join failed
    on failed.currency = calendar.currency and failed.day = calendar.day
),

running as (
  select
    filled.*,
    sum(balance_change) over (
      partition by currency order by day rows between unbounded preceding and current row
    ) as running_balance
  from filled
)

{%- set money = ['charge_amount', 'refund_amount', 'dispute_amount', 'other_amount',
                 'activity_amount', 'fee_amount', 'activity_net', 'payout_amount',
                 'balance_change', 'running_balance', 'failed_charge_amount'] %}
select
  running.*,
  {%- for column in money %}
  {{ to_major(column, 'currency') }} as {{ column }}_major{{ "," if not loop.last }}
  {%- endfor %}
from running
