"""``python -m stripe_assets.sandbox``."""

from .cli import main

main()
