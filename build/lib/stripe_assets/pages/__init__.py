"""The CPU side of a run: a Stripe page's bytes in, Arrow tables out.

Importable without dlt or Dagster: page worker processes (`pool.py`) run this code, so the
run's process only sends bytes and receives Arrow while its GIL serves the HTTP threads.
"""
