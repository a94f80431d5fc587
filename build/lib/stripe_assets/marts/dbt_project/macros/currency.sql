{#-
  Minor units per major unit, per Stripe (https://docs.stripe.com/currencies): amounts are
  integers in the currency's smallest unit, and the exponent is the number of decimals.
  This is the project's one list of exponents; every `*_major` column goes through `to_major`.
-#}
{% macro zero_decimal_currencies() %}
  {{ return(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']) }}
{% endmacro %}

{% macro three_decimal_currencies() %}
  {{ return(['bhd', 'jod', 'kwd', 'omr', 'tnd']) }}
{% endmacro %}

{#- The exponent (0, 2 or 3) of a lowercase ISO currency code column. -#}
{% macro currency_exponent(currency) -%}
  case
    when {{ currency }} in ('{{ zero_decimal_currencies() | join("', '") }}') then 0
    when {{ currency }} in ('{{ three_decimal_currencies() | join("', '") }}') then 3
    else 2
  end
{%- endmacro %}

{#-
  An amount in the minor unit as a decimal in the major unit: 1234 usd -> 12.340,
  1234 jpy -> 1234.000, 1234 kwd -> 1.234. Three decimals hold every exponent exactly.
-#}
{% macro to_major(amount, currency) -%}
  cast(cast({{ amount }} as decimal(38, 3)) / cast(power(10, {{ currency_exponent(currency) }}) as decimal(38, 3)) as decimal(38, 3))
{%- endmacro %}
