{#- One row per balance transaction, with what caused it. Definitions: schema.yml. -#}
with transactions as (
  select * from {{ ref('stg_stripe__balance_transactions') }}
),

charges as (
  select * from {{ ref('stg_stripe__charges') }}
),

refunds as (
  select * from {{ ref('stg_stripe__refunds') }}
),

disputes as (
  select * from {{ ref('stg_stripe__disputes') }}
),

settled_by as (
  {#- A transaction a payout settles; if a payout failed and another settled the same
      transaction again, the latest payout. -#}
  select balance_transaction_id, payout_id
  from (
    select
      settled.balance_transaction_id,
      settled.payout_id,
      row_number() over (
        partition by settled.balance_transaction_id
        order by payouts.created desc nulls last, settled.payout_id desc
      ) as pick
    from {{ ref('stg_stripe__payout_transactions') }} as settled
    left join {{ ref('stg_stripe__payouts') }} as payouts
      on payouts.payout_id = settled.payout_id
  ) as ranked
  where pick = 1
),

linked as (
  select
    transactions.*,
    refunds.refund_id,
    disputes.dispute_id,
    coalesce(direct_charges.charge_id, refunds.charge_id, disputes.charge_id) as charge_id,
    coalesce(
      settled_by.payout_id,
      case when transactions.transaction_type in ('payout', 'payout_cancel', 'payout_failure')
        then transactions.source_id end
    ) as payout_id,
    coalesce(
      transactions.reporting_category,
      case
        when transactions.transaction_type in ('charge', 'payment') then 'charge'
        when transactions.transaction_type in ('refund', 'payment_refund') then 'refund'
        when transactions.transaction_type in ('refund_failure', 'payment_failure_refund')
          then 'refund_failure'
        when transactions.transaction_type = 'payout' then 'payout'
        when transactions.transaction_type in ('payout_cancel', 'payout_failure')
          then 'payout_reversal'
        when disputes.dispute_id is not null then 'dispute'
        else transactions.transaction_type
      end
    ) as category
  from transactions
  left join charges as direct_charges
    on direct_charges.charge_id = transactions.source_id
  left join refunds
    on refunds.refund_id = transactions.source_id
  left join disputes
    on disputes.dispute_id = transactions.source_id
  left join settled_by
    on settled_by.balance_transaction_id = transactions.balance_transaction_id
)

select
  linked.balance_transaction_id,
  linked.created,
  {{ utc_date('linked.created') }} as created_date,
  linked.available_on,
  linked.transaction_type,
  linked.reporting_category,
  linked.category,
  linked.status,
  linked.currency,
  linked.amount,
  linked.fee,
  linked.net,
  linked.stripe_fee,
  linked.application_fee,
  linked.tax_fee,
  linked.exchange_rate,
  linked.source_id,
  linked.description,
  linked.charge_id,
  linked.refund_id,
  linked.dispute_id,
  linked.payout_id,
  payouts.status as payout_status,
  payouts.arrival_date as payout_arrival_date,
  payouts.automatic as payout_is_automatic,
  charges.customer_id,
  customers.email as customer_email,
  customers.name as customer_name,
  charges.invoice_id,
  invoices.subscription_id,
  charges.payment_intent_id,
  charges.amount as charge_amount,
  charges.currency as charge_currency,
  charges.created as charge_created,
  {{ to_major('linked.amount', 'linked.currency') }} as amount_major,
  {{ to_major('linked.fee', 'linked.currency') }} as fee_major,
  {{ to_major('linked.net', 'linked.currency') }} as net_major,
  {{ to_major('linked.stripe_fee', 'linked.currency') }} as stripe_fee_major,
  {{ to_major('linked.application_fee', 'linked.currency') }} as application_fee_major,
  {{ to_major('linked.tax_fee', 'linked.currency') }} as tax_fee_major,
  {{ to_major('charges.amount', 'charges.currency') }} as charge_amount_major
from linked
left join charges
  on charges.charge_id = linked.charge_id
left join {{ ref('stg_stripe__customers') }} as customers
  on customers.customer_id = charges.customer_id
left join {{ ref('stg_stripe__invoices') }} as invoices
  on invoices.invoice_id = charges.invoice_id
left join {{ ref('stg_stripe__payouts') }} as payouts
  on payouts.payout_id = linked.payout_id
