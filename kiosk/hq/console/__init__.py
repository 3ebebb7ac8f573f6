"""The HQ console: server-rendered pages (Starlette + Jinja2, plain forms, no JavaScript build)
for HQ staff and store managers, on the same SQL and the same admin operations as `kiosk hq`.

Modules: auth (accounts, roles, sessions, login lockout), audit (the append-only log),
members (search and the member page's data), i18n (the console's zh_CN/English message table),
app (routes and request plumbing), pages_* (the handlers), command (`kiosk hq console`,
`kiosk hq users`)."""
