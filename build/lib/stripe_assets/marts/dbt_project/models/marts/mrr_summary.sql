{#- One row per month and currency, from the currency's first month with MRR to the as_of
    month. Definitions: schema.yml. -#}
{%- set movements = ['new', 'expansion', 'contraction', 'churned', 'reactivation'] %}
with items as (
  select * from {{ ref('mrr_by_subscription_item') }}
),

first_months as (
  select currency, min(month) as first_month
  from items
  group by currency
),

calendar as (
  select first_months.currency, months.month
  from first_months
  join {{ ref('int_stripe__months') }} as months
    on months.month >= first_months.first_month
),

by_month as (
  select
    currency,
    month,
    sum(mrr) as mrr,
    {%- for movement in movements %}
    sum(case when movement_type = '{{ movement }}' then mrr_change else 0 end) as {{ movement }}_mrr,
    count(case when movement_type = '{{ movement }}' then 1 end) as {{ movement }}_items,
    {%- endfor %}
    count(case when movement_type = 'unchanged' then 1 end) as unchanged_items,
    count(distinct case when mrr > 0 then subscription_id end) as active_subscriptions,
    count(distinct case when mrr > 0 then customer_id end) as active_customers
  from items
  group by currency, month
),

customer_months as (
  select distinct currency, customer_id, month
  from items
  where mrr > 0 and customer_id is not null
),

customer_churn as (
  select currency, {{ next_month('month') }} as month, count(*) as churned_customers
  from (
    select
      customer_months.*,
      lead(month) over (partition by currency, customer_id order by month) as next_active_month
    from customer_months
  ) as ordered
  where (next_active_month is null or next_active_month > {{ next_month('month') }})
    and {{ next_month('month') }} <= {{ as_of_month() }}
  group by currency, {{ next_month('month') }}
),

filled as (
  select
    calendar.month,
    calendar.currency,
    coalesce(by_month.mrr, 0) as mrr,
    {%- for movement in movements %}
    coalesce(by_month.{{ movement }}_mrr, 0) as {{ movement }}_mrr,
    coalesce(by_month.{{ movement }}_items, 0) as {{ movement }}_items,
    {%- endfor %}
    coalesce(by_month.unchanged_items, 0) as unchanged_items,
    coalesce(by_month.active_subscriptions, 0) as active_subscriptions,
    coalesce(by_month.active_customers, 0) as active_customers,
    coalesce(customer_churn.churned_customers, 0) as churned_customers
  from calendar
  left join by_month
    on by_month.currency = calendar.currency and by_month.month = calendar.month
  left join customer_churn
    on customer_churn.currency = calendar.currency and customer_churn.month = calendar.month
),

with_previous as (
  select
    filled.*,
    coalesce(lag(mrr) over by_currency, 0) as previous_mrr,
    coalesce(lag(active_customers) over by_currency, 0) as previous_active_customers
  from filled
  window by_currency as (partition by currency order by month)
)

select
  month,
  currency,
  mrr,
  previous_mrr,
  {%- for movement in movements %}
  {{ movement }}_mrr,
  {%- endfor %}
  {{ movements | join('_mrr + ') }}_mrr as net_new_mrr,
  12 * mrr as arr,
  {%- for movement in movements %}
  {{ movement }}_items,
  {%- endfor %}
  unchanged_items,
  active_subscriptions,
  active_customers,
  previous_active_customers,
  churned_customers,
  cast(churned_customers as {{ stripe_type('double') }})
    / nullif(previous_active_customers, 0) as customer_churn_rate,
  cast(-(churned_mrr + contraction_mrr) as {{ stripe_type('double') }})
    / nullif(previous_mrr, 0) as revenue_churn_rate,
  {{ to_major('mrr', 'currency') }} as mrr_major,
  {{ to_major('previous_mrr', 'currency') }} as previous_mrr_major,
  {%- for movement in movements %}
  {{ to_major(movement ~ '_mrr', 'currency') }} as {{ movement }}_mrr_major,
  {%- endfor %}
  {{ to_major(movements | join('_mrr + ') ~ '_mrr', 'currency') }} as net_new_mrr_major,
  {{ to_major('12 * mrr', 'currency') }} as arr_major
from with_previous
