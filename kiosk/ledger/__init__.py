"""Domain: money, members, accounts, rules and transactions. Pure Python, no I/O."""
