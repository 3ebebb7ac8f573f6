"""The till API: a local HTTP JSON API the store's till drives (charges, refunds, voids), its
OpenAPI document, per-till tokens and a reference client. docs/pos-api.md describes it."""
