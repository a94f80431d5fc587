{#-
  Monthly recurring revenue of an amount billed once per `interval_count` x `interval`
  (Stripe's price.recurring), in the same minor unit, rounded half away from zero to a whole
  minor unit:

      month: amount / count          year: amount / (12 x count)
      week:  amount x 52 / (12 x count)   day:  amount x 365 / (12 x count)

  Any other interval gives null.
-#}
{% macro monthly_amount(amount, interval, interval_count) -%}
  cast(round(
    cast({{ amount }} as decimal(38, 6))
    * case {{ interval }} when 'month' then 1 when 'year' then 1 when 'week' then 52 when 'day' then 365 end
    / (case {{ interval }} when 'month' then 1 else 12 end * coalesce({{ interval_count }}, 1))
  ) as bigint)
{%- endmacro %}

