{#-
  Stripe's payout reconciliation: the balance transactions an automatic payout settled add up
  to the payout. For every payout with settled transactions, fails when
    - the settled transactions other than the payout's own (type payout) do not net to its
      amount:  sum(net) = payout.amount;
    - its own transaction is not the negative of that:  own amount = -payout.amount;
    - or a settled transaction is in another currency than the payout.
-#}
{% test payout_reconciles(model) %}
select *
from {{ model }}
where settled_transaction_count > 0
  and (
    reconciliation_difference <> 0
    or (own_transaction_count > 0 and own_transaction_amount <> -amount)
    or own_transaction_count > 1
    or other_currency_count > 0
  )
{% endtest %}
