"""events: inventory_take(), a hold or a sale in one round trip

The rules and the locking of ``place_hold``/``sell_directly`` as one function, so a
buyer's hold is a single statement the database commits on its own: the applicable pool
rows stay locked for the function's run and the commit, not for round trips and an
event-loop turn (see the inventory package's rules, which it follows step by step).

Inside a PL/pgSQL function every statement takes a fresh snapshot, so the context read
after the owner's lock sees the holds that cart committed while it waited, exactly as
the separate statements did.

Revision ID: events_0005
Revises: events_0004
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "events_0005"
down_revision: str | Sequence[str] | None = "events_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TAKE = r"""
CREATE FUNCTION inventory_take(
    p_namespace integer,
    p_event_id uuid,
    p_ticket_type_id uuid,
    p_event_date_id uuid,
    p_quantity integer,
    p_owner varchar,
    p_seconds double precision,
    p_hold_id uuid,
    p_organization_id uuid,
    p_sale boolean,
    p_buyer_rules boolean,
    p_allow_promo boolean,
    OUT outcome text,
    OUT organization_id uuid,
    OUT event_date_id uuid,
    OUT expires_at timestamptz,
    OUT sale_starts_at timestamptz,
    OUT min_per_order integer,
    OUT max_per_order integer,
    OUT owner_held bigint,
    OUT available integer
) LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    ctx record;
    dates integer;
    taken record;
    short_ok boolean;
    reclaimed bigint;
BEGIN
    IF p_buyer_rules THEN
        -- (0) the owner's lock: one cart's holds run one after another
        PERFORM pg_advisory_xact_lock(hashtextextended('holds:owner:' || p_owner, 0));
    END IF;
    -- (1) the event's inventory lock, shared; then what the rules need
    PERFORM pg_advisory_xact_lock_shared(p_namespace, hashtext(CAST(p_event_id AS text)));
    SELECT e.organization_id, CAST(e.status AS text) AS event_status,
           CAST(t.visibility AS text) AS visibility,
           t.sale_starts_at, t.sale_ends_at, t.min_per_order, t.max_per_order,
           d.id AS date_id, d.ends_at AS date_ends_at, now() AS now,
           (SELECT coalesce(sum(h.quantity), 0) FROM inventory_hold h
             WHERE h.owner = p_owner AND h.ticket_type_id = t.id
               AND h.status = 'active' AND h.expires_at > now()) AS owner_held
      INTO ctx
      FROM event e
      JOIN ticket_type t ON t.event_id = e.id AND t.id = p_ticket_type_id
      LEFT JOIN LATERAL (
            SELECT d.id, d.ends_at FROM event_date d
             WHERE d.event_id = e.id AND (p_event_date_id IS NULL OR d.id = p_event_date_id)
             ORDER BY d.starts_at, d.id LIMIT 1
      ) d ON true
     WHERE e.id = p_event_id;
    IF NOT FOUND OR (p_organization_id IS NOT NULL
                     AND ctx.organization_id <> p_organization_id) THEN
        outcome := 'ticket-type-not-found';
        RETURN;
    END IF;
    organization_id := ctx.organization_id;
    sale_starts_at := ctx.sale_starts_at;
    min_per_order := ctx.min_per_order;
    max_per_order := ctx.max_per_order;
    owner_held := ctx.owner_held;
    IF p_buyer_rules THEN
        IF ctx.event_status <> 'published' THEN
            outcome := 'event-not-published';
            RETURN;
        END IF;
        IF ctx.visibility = 'promo' AND NOT p_allow_promo THEN
            outcome := 'ticket-type-not-found';
            RETURN;
        END IF;
    END IF;
    IF ctx.date_id IS NULL THEN
        outcome := CASE WHEN p_event_date_id IS NULL THEN 'no-date' ELSE 'date-not-found' END;
        RETURN;
    END IF;
    IF p_event_date_id IS NULL THEN
        SELECT count(*) INTO dates FROM event_date d WHERE d.event_id = p_event_id;
        IF dates > 1 THEN
            outcome := 'date-required';
            RETURN;
        END IF;
    END IF;
    event_date_id := ctx.date_id;
    IF p_buyer_rules THEN
        IF ctx.sale_starts_at IS NOT NULL AND ctx.now < ctx.sale_starts_at THEN
            outcome := 'sale-not-started';
            RETURN;
        END IF;
        IF ctx.sale_ends_at IS NOT NULL AND ctx.now >= ctx.sale_ends_at THEN
            outcome := 'sale-ended';
            RETURN;
        END IF;
        IF ctx.date_ends_at <= ctx.now THEN
            outcome := 'date-over';
            RETURN;
        END IF;
        IF ctx.owner_held + p_quantity < ctx.min_per_order
           OR ctx.owner_held + p_quantity > ctx.max_per_order THEN
            outcome := 'order-limit';
            RETURN;
        END IF;
    END IF;

    -- (3) the applicable pools, in id order; the hold only if every one has room
    FOR attempt IN 1..2 LOOP
        WITH locked AS (
            SELECT p.id, p.sold, p.held, p.capacity - p.sold - p.held AS free,
                   (SELECT coalesce(sum(ph.quantity), 0) FROM inventory_pool_hold ph
                     WHERE ph.pool_id = p.id AND ph.expires_at <= now()) AS expired
              FROM inventory_pool p
             WHERE p.event_id = p_event_id
               AND (p.event_date_id IS NULL OR p.event_date_id = ctx.date_id)
               AND (p.kind IN ('event', 'date')
                    OR p.ticket_type_id = p_ticket_type_id
                    OR EXISTS (SELECT 1 FROM inventory_pool_member m
                                WHERE m.pool_id = p.id AND m.ticket_type_id = p_ticket_type_id))
             ORDER BY p.id
               FOR UPDATE OF p
        ),
        verdict AS (
            SELECT coalesce(bool_and(free >= p_quantity), true) AS ok FROM locked
        ),
        new_hold AS (
            INSERT INTO inventory_hold (id, organization_id, event_id, event_date_id,
                                        ticket_type_id, quantity, owner, status,
                                        expires_at, created_at, closed_at)
            SELECT p_hold_id, ctx.organization_id, p_event_id, ctx.date_id,
                   p_ticket_type_id, p_quantity, p_owner,
                   CAST(CASE WHEN p_sale THEN 'converted' ELSE 'active' END
                        AS inventory_hold_status),
                   now() + make_interval(secs => p_seconds), now(),
                   CASE WHEN p_sale THEN now() END
              FROM verdict WHERE ok
            RETURNING id, expires_at
        ),
        shares AS (
            INSERT INTO inventory_pool_hold (pool_id, hold_id, quantity, expires_at)
            SELECT locked.id, new_hold.id, p_quantity, new_hold.expires_at
              FROM locked CROSS JOIN new_hold
             WHERE NOT p_sale
        ),
        counted AS (
            -- from ``locked`` (the newest row versions), never ``p.held + q``: see
            -- _take_sql in the inventory package
            UPDATE inventory_pool p
               SET sold = locked.sold + CASE WHEN p_sale THEN p_quantity ELSE 0 END,
                   held = locked.held + CASE WHEN p_sale THEN 0 ELSE p_quantity END
              FROM locked, new_hold
             WHERE p.id = locked.id
        )
        SELECT v.ok, h.expires_at AS expires_at,
               (SELECT array_agg(id ORDER BY id) FROM locked) AS pool_ids,
               (SELECT array_agg(free ORDER BY id) FROM locked) AS frees,
               (SELECT array_agg(expired ORDER BY id) FROM locked) AS expired,
               (SELECT min(free + expired) FROM locked) AS room,
               (SELECT min(free) FROM locked) AS least_free,
               (SELECT bool_and(free + expired >= p_quantity) FROM locked
                 WHERE free < p_quantity) AS reclaimable
          INTO taken
          FROM verdict v LEFT JOIN new_hold h ON true;
        IF taken.ok THEN
            outcome := 'ok';
            expires_at := taken.expires_at;
            RETURN;
        END IF;
        IF attempt = 2 OR NOT coalesce(taken.reclaimable, false) THEN
            EXIT;
        END IF;
        -- expired shares can make up the shortfall: give them back, then try again
        WITH gone AS (
            DELETE FROM inventory_pool_hold ph
             WHERE ph.pool_id IN (
                     SELECT (taken.pool_ids)[i] FROM generate_subscripts(taken.pool_ids, 1) i
                      WHERE (taken.frees)[i] < p_quantity)
               AND ph.expires_at <= now()
            RETURNING ph.pool_id, ph.quantity
        ),
        per_pool AS (SELECT pool_id, sum(quantity) AS quantity FROM gone GROUP BY pool_id),
        given AS (
            UPDATE inventory_pool p SET held = p.held - per_pool.quantity
              FROM per_pool WHERE p.id = per_pool.pool_id
            RETURNING per_pool.quantity
        )
        SELECT coalesce(sum(quantity), 0) INTO reclaimed FROM given;
        IF reclaimed = 0 THEN
            EXIT;
        END IF;
    END LOOP;
    outcome := 'sold-out';
    -- after a reclaim only what is free counts; before it, expired shares would have
    available := greatest(0, CASE WHEN coalesce(reclaimed, 0) = 0 THEN taken.room
                                  ELSE taken.least_free END);
END
$fn$
"""


def upgrade() -> None:
    op.execute(TAKE)


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION inventory_take(integer, uuid, uuid, uuid, integer, varchar, "
        "double precision, uuid, uuid, boolean, boolean, boolean)"
    )
