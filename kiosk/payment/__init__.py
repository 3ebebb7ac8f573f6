"""How a top-up gets paid: one port (`PaymentMethod`) and an adapter per way of paying."""
