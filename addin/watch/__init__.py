"""``perprisk watch``: alerts when a position nears liquidation, as the prices move."""
