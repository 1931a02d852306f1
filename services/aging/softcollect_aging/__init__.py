"""softcollect aging service: the receivables ledger: open items, phases, cash application, locks, aging and KPIs."""
