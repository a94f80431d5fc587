{#- One row per payout, with the balance transactions it settled. Definitions: schema.yml. -#}
with settled as (
  select
    settled.payout_id,
    count(*) as settled_transaction_count,
    count(case when settled.transaction_type <> 'payout' then 1 end) as settled_activity_count,
    count(case when settled.currency <> payouts.currency then 1 end) as other_currency_count,
    sum(case when settled.transaction_type <> 'payout' and settled.currency = payouts.currency
      then settled.amount else 0 end) as settled_amount,
    sum(case when settled.transaction_type <> 'payout' and settled.currency = payouts.currency
      then settled.fee else 0 end) as settled_fee,
    sum(case when settled.transaction_type <> 'payout' and settled.currency = payouts.currency
      then settled.net else 0 end) as settled_net,
    count(case when settled.transaction_type = 'payout' then 1 end) as own_transaction_count,
    sum(case when settled.transaction_type = 'payout' then settled.amount end)
      as own_transaction_amount
  from {{ ref('stg_stripe__payout_transactions') }} as settled
  join {{ ref('stg_stripe__payouts') }} as payouts
    on payouts.payout_id = settled.payout_id
  group by settled.payout_id
)

select
  payouts.payout_id,
  payouts.created,
  {{ utc_date('payouts.created') }} as created_date,
  payouts.arrival_date,
  payouts.status,
  payouts.automatic,
  payouts.payout_type,
  payouts.method,
  payouts.currency,
  payouts.amount,
  coalesce(settled.settled_transaction_count, 0) as settled_transaction_count,
  coalesce(settled.settled_activity_count, 0) as settled_activity_count,
  coalesce(settled.other_currency_count, 0) as other_currency_count,
  coalesce(settled.settled_amount, 0) as settled_amount,
  coalesce(settled.settled_fee, 0) as settled_fee,
  coalesce(settled.settled_net, 0) as settled_net,
  coalesce(settled.own_transaction_count, 0) as own_transaction_count,
  settled.own_transaction_amount,
  payouts.amount - coalesce(settled.settled_net, 0) as reconciliation_difference,
  {{ to_major('payouts.amount', 'payouts.currency') }} as amount_major,
  {{ to_major('coalesce(settled.settled_amount, 0)', 'payouts.currency') }} as settled_amount_major,
  {{ to_major('coalesce(settled.settled_fee, 0)', 'payouts.currency') }} as settled_fee_major,
  {{ to_major('coalesce(settled.settled_net, 0)', 'payouts.currency') }} as settled_net_major,
  {{ to_major('settled.own_transaction_amount', 'payouts.currency') }} as own_transaction_amount_major,
  {{ to_major('payouts.amount - coalesce(settled.settled_net, 0)', 'payouts.currency') }}
    as reconciliation_difference_major
from {{ ref('stg_stripe__payouts') }} as payouts
left join settled
  on settled.payout_id = payouts.payout_id
