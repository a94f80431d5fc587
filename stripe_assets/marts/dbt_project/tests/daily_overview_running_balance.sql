{#- running_balance, recomputed without a window function: the sum of balance_change of the
    same currency up to the day. Fails on every day where the two differ. -#}
select day, currency, running_balance
from {{ ref('daily_overview') }} as days
where running_balance <> (
  select sum(earlier.balance_change)
  from {{ ref('daily_overview') }} as earlier
  where earlier.currency = days.currency and earlier.day <= days.day
)
