"""`kiosk demo`: a morning at a store told end to end (ledger, screen flow, sync to HQ)."""
