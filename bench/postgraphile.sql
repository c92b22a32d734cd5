-- Computed columns PostGraphile exposes on OfferEntitlement, so its dashboard query returns the
-- same used/remaining figures Trellis computes from the offer ledger (offer/src/balance.rs):
-- quantities are signed (usage and cash-in negative), used = usages − reversals, and
-- remaining = entitlement − used − cashed-in, which is the sum of every entry.
-- bench/run applies this to its throwaway database only; Trellis never reads these functions.
create or replace function offer_entitlements_granted(e offer_entitlements) returns bigint
  language sql stable as $$
    select coalesce(sum(quantity), 0)::bigint from offer_ledger_entries
    where entitlement_id = e.id and kind = 'GRANT' $$;
create or replace function offer_entitlements_used(e offer_entitlements) returns bigint
  language sql stable as $$
    select coalesce(-sum(quantity), 0)::bigint from offer_ledger_entries
    where entitlement_id = e.id and kind in ('USAGE', 'REVERSAL') $$;
create or replace function offer_entitlements_cashed_in(e offer_entitlements) returns bigint
  language sql stable as $$
    select coalesce(-sum(quantity), 0)::bigint from offer_ledger_entries
    where entitlement_id = e.id and kind = 'CASH_IN' $$;
create or replace function offer_entitlements_drawn_forward(e offer_entitlements) returns bigint
  language sql stable as $$
    select coalesce(sum(quantity), 0)::bigint from offer_ledger_entries
    where entitlement_id = e.id and kind = 'DRAW_FORWARD' $$;
create or replace function offer_entitlements_entitlement(e offer_entitlements) returns bigint
  language sql stable as $$
    select coalesce(sum(quantity), 0)::bigint from offer_ledger_entries
    where entitlement_id = e.id and kind in ('GRANT', 'ADJUSTMENT', 'DRAW_FORWARD') $$;
create or replace function offer_entitlements_remaining(e offer_entitlements) returns bigint
  language sql stable as $$
    select case when e.unlimited then null else coalesce(sum(quantity), 0)::bigint end
    from offer_ledger_entries where entitlement_id = e.id $$;
-- Trellis's traded_sessions keeps places_taken; placesLeft is capacity minus that.
create or replace function traded_sessions_places_left(s traded_sessions) returns integer
  language sql stable as $$ select greatest(s.capacity - s.places_taken, 0) $$;
-- Trellis's Invoice.outstanding: what is still owed.
create or replace function invoices_outstanding(i invoices) returns bigint
  language sql stable as $$ select i.total_pence - i.paid_pence - i.credited_pence $$;
