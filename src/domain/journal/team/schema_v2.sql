-- The team journal, version 2: GatePay batches, under the same rules as CNY payouts. Applied
-- by the owner on top of version 1 (`paydesk journal team-setup` brings a journal up to date).

-- Which GatePay batches need a second person: those of `merchant` (the GatePay client_id)
-- whose total in `currency` is at least `threshold`; currency '*' (threshold 0): every batch.
CREATE TABLE paydesk.batch_approval_rules (
    merchant text NOT NULL,
    currency text NOT NULL CHECK (currency = '*' OR currency ~ '^[A-Z0-9]{1,20}$'),
    threshold numeric NOT NULL CHECK (threshold >= 0),
    set_by text NOT NULL DEFAULT session_user,
    set_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant, currency),
    CHECK (currency <> '*' OR threshold = 0)
);

CREATE TABLE paydesk.batches (
    id bigserial PRIMARY KEY,
    merchant text NOT NULL,
    batch_id text NOT NULL,
    body text NOT NULL,
    body_sha256 text NOT NULL,
    sub_orders bigint NOT NULL CHECK (sub_orders > 0),
    totals text NOT NULL,
    state text NOT NULL CHECK (state IN ('queued', 'sending', 'accepted', 'rejected', 'unknown', 'not-created')),
    batch_status text,
    reject_code text,
    reject_meaning text,
    reject_message text,
    unknown_why text,
    is_final boolean NOT NULL DEFAULT false,
    attempts bigint NOT NULL DEFAULT 0,
    checks bigint NOT NULL DEFAULT 0,
    next_check_at bigint,
    last_sent_at bigint,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    origin text,
    created_by text NOT NULL,
    approval text NOT NULL CHECK (approval IN ('not-needed', 'pending', 'approved', 'rejected')),
    decided_by text,
    decided_at timestamptz,
    decision_reason text,
    sent_by text,
    claimed_by text,
    claimed_at bigint,
    claim_pid integer,
    claim_backend_start timestamptz,
    UNIQUE (merchant, batch_id)
);
CREATE INDEX batches_pending ON paydesk.batches (merchant) WHERE approval = 'pending';

-- A batch's totals per currency, read from the body it sends (exact decimals).
CREATE FUNCTION paydesk.batch_totals(p_body jsonb)
RETURNS TABLE (currency text, total numeric) LANGUAGE sql IMMUTABLE AS $$
    SELECT upper(btrim(item->>'currency')), sum((item->>'amount')::numeric)
    FROM jsonb_array_elements(p_body->'withdraw_list') AS item
    GROUP BY 1
$$;

-- A new batch: who recorded it comes from the session; whether it needs approval from the
-- rules, over the totals of the body it will send; what it says must be its body.
CREATE FUNCTION paydesk.batch_insert() RETURNS trigger LANGUAGE plpgsql
SET search_path = paydesk, pg_temp AS $$
DECLARE
    v_body jsonb;
BEGIN
    -- Bounded: every console reads these rows (GatePay takes at most a few thousand sub-orders).
    IF octet_length(NEW.body) > 4194304 OR octet_length(NEW.totals) > 4096 THEN
        RAISE EXCEPTION 'batch %: its body is longer than 4 MiB', NEW.batch_id USING ERRCODE = 'check_violation';
    END IF;
    BEGIN
        v_body := NEW.body::jsonb;
    EXCEPTION WHEN others THEN
        RAISE EXCEPTION 'batch %: its body is not JSON', NEW.batch_id USING ERRCODE = 'check_violation';
    END;
    IF v_body->>'batch_id' IS DISTINCT FROM NEW.batch_id
        OR jsonb_typeof(v_body->'withdraw_list') IS DISTINCT FROM 'array'
        OR jsonb_array_length(v_body->'withdraw_list') <> NEW.sub_orders
        OR encode(sha256(convert_to(NEW.body, 'UTF8')), 'hex') <> NEW.body_sha256
        OR EXISTS (SELECT 1 FROM jsonb_array_elements(v_body->'withdraw_list') AS item
                   WHERE coalesce(item->>'amount', '') !~ '^[0-9]{1,30}(\.[0-9]{1,18})?$'
                      OR coalesce(btrim(item->>'currency'), '') = '') THEN
        RAISE EXCEPTION 'batch %: its columns do not match its body', NEW.batch_id
            USING ERRCODE = 'check_violation';
    END IF;
    NEW.created_by := session_user;
    NEW.decided_by := NULL;
    NEW.decided_at := NULL;
    NEW.decision_reason := NULL;
    NEW.sent_by := NULL;
    IF EXISTS (SELECT 1 FROM paydesk.batch_approval_rules r
               WHERE r.merchant = NEW.merchant
                 AND (r.currency = '*' OR EXISTS (SELECT 1 FROM paydesk.batch_totals(v_body) t
                                                  WHERE t.currency = r.currency AND t.total >= r.threshold))) THEN
        NEW.approval := 'pending';
    ELSE
        NEW.approval := 'not-needed';
    END IF;
    IF NEW.state <> 'queued' AND session_user <> paydesk.owner() THEN
        RAISE EXCEPTION 'batch %: an intent is recorded as queued, not %', NEW.batch_id, NEW.state
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.state <> 'queued' THEN
        NEW.approval := 'not-needed';
    END IF;
    NEW.claimed_by := NULL;
    NEW.claimed_at := NULL;
    NEW.claim_pid := NULL;
    NEW.claim_backend_start := NULL;
    RETURN NEW;
END
$$;

-- A change to a batch: the payouts' rules (what it sends is fixed; approval decided once by
-- another role; nothing sent unless approved or not in need of it; only the moves the
-- journal makes).
CREATE FUNCTION paydesk.batch_update() RETURNS trigger LANGUAGE plpgsql
SET search_path = paydesk, pg_temp AS $$
BEGIN
    IF NEW.merchant IS DISTINCT FROM OLD.merchant OR NEW.batch_id IS DISTINCT FROM OLD.batch_id
        OR NEW.body IS DISTINCT FROM OLD.body OR NEW.body_sha256 IS DISTINCT FROM OLD.body_sha256
        OR NEW.sub_orders IS DISTINCT FROM OLD.sub_orders OR NEW.totals IS DISTINCT FROM OLD.totals
        OR NEW.created_by IS DISTINCT FROM OLD.created_by OR NEW.created_at IS DISTINCT FROM OLD.created_at
        OR (OLD.origin IS NOT NULL AND NEW.origin IS DISTINCT FROM OLD.origin) THEN
        RAISE EXCEPTION 'batch %: what a recorded batch pays and who recorded it cannot change', OLD.batch_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.approval IS DISTINCT FROM OLD.approval THEN
        IF OLD.approval <> 'pending' OR NEW.approval NOT IN ('approved', 'rejected') THEN
            RAISE EXCEPTION 'batch %: its approval is % and cannot become %', OLD.batch_id, OLD.approval, NEW.approval
                USING ERRCODE = 'check_violation';
        END IF;
        IF session_user = OLD.created_by THEN
            RAISE EXCEPTION 'batch %: % recorded it and cannot also % it (four eyes)', OLD.batch_id, session_user,
                CASE NEW.approval WHEN 'approved' THEN 'approve' ELSE 'reject' END
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF OLD.state <> 'queued' THEN
            RAISE EXCEPTION 'batch %: it is % and its approval can no longer change', OLD.batch_id, OLD.state
                USING ERRCODE = 'check_violation';
        END IF;
        IF octet_length(NEW.decision_reason) > 4096 THEN
            RAISE EXCEPTION 'batch %: a reason is at most 4 KiB', OLD.batch_id USING ERRCODE = 'check_violation';
        END IF;
        NEW.decided_by := session_user;
        NEW.decided_at := now();
    ELSE
        NEW.decided_by := OLD.decided_by;
        NEW.decided_at := OLD.decided_at;
        NEW.decision_reason := OLD.decision_reason;
    END IF;
    IF NEW.state IS DISTINCT FROM OLD.state AND NOT (
        (NEW.state = 'sending' AND OLD.state IN ('queued', 'not-created'))
        OR (NEW.state = 'unknown' AND OLD.state = 'sending')
        OR (NEW.state = 'rejected' AND OLD.state IN ('sending', 'unknown', 'not-created'))
        OR (NEW.state = 'accepted' AND OLD.state IN ('sending', 'unknown', 'rejected', 'not-created'))
        OR (NEW.state = 'not-created' AND OLD.state IN ('sending', 'unknown'))) THEN
        RAISE EXCEPTION 'batch %: it is % and cannot become %', OLD.batch_id, OLD.state, NEW.state
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.state = 'sending' AND OLD.state <> 'sending' THEN
        IF NEW.approval NOT IN ('not-needed', 'approved') THEN
            RAISE EXCEPTION 'batch %: it needs approval by another operator before it is sent (approval: %)',
                OLD.batch_id, NEW.approval USING ERRCODE = 'insufficient_privilege';
        END IF;
        NEW.sent_by := session_user;
        NEW.claim_pid := pg_backend_pid();
        SELECT backend_start INTO NEW.claim_backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid();
    ELSIF NEW.state <> 'sending' THEN
        NEW.sent_by := OLD.sent_by;
        NEW.claim_pid := NULL;
        NEW.claim_backend_start := NULL;
    ELSE
        NEW.sent_by := OLD.sent_by;
        NEW.claim_pid := OLD.claim_pid;
        NEW.claim_backend_start := OLD.claim_backend_start;
    END IF;
    RETURN NEW;
END
$$;

CREATE FUNCTION paydesk.batch_audit() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = paydesk, pg_temp AS $$
DECLARE
    v_what text := NEW.batch_id || ' (' || NEW.sub_orders || ' sub-orders: ' || NEW.totals || ')';
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM paydesk.audit_write(
            CASE NEW.approval WHEN 'pending' THEN 'batch recorded, awaiting approval' ELSE 'batch recorded' END,
            v_what, NEW.merchant);
    ELSE
        IF NEW.approval IS DISTINCT FROM OLD.approval THEN
            PERFORM paydesk.audit_write('batch ' || NEW.approval,
                v_what || coalesce(' (' || NEW.decision_reason || ')', ''), NEW.merchant);
        END IF;
        IF NEW.state IS DISTINCT FROM OLD.state THEN
            PERFORM paydesk.audit_write('batch ' || NEW.state,
                v_what || coalesce(' status ' || NEW.batch_status, '') || coalesce(' code ' || NEW.reject_code, '')
                    || coalesce(' (' || NEW.unknown_why || ')', ''), NEW.merchant);
        ELSIF NEW.batch_status IS DISTINCT FROM OLD.batch_status THEN
            PERFORM paydesk.audit_write('batch status', v_what || ' status ' || coalesce(NEW.batch_status, ''),
                NEW.merchant);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER batch_insert BEFORE INSERT ON paydesk.batches
    FOR EACH ROW EXECUTE FUNCTION paydesk.batch_insert();
CREATE TRIGGER batch_update BEFORE UPDATE ON paydesk.batches
    FOR EACH ROW EXECUTE FUNCTION paydesk.batch_update();
CREATE TRIGGER batch_audit AFTER INSERT OR UPDATE ON paydesk.batches
    FOR EACH ROW EXECUTE FUNCTION paydesk.batch_audit();
CREATE TRIGGER batches_no_delete BEFORE DELETE ON paydesk.batches
    FOR EACH ROW EXECUTE FUNCTION paydesk.refuse();

-- The entries the triggers write, payouts' and batches', are not written by hand.
CREATE OR REPLACE FUNCTION paydesk.audit_append(p_action text, p_detail text, p_merchant text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = paydesk, pg_temp AS $$
BEGIN
    IF octet_length(p_action) > 200 OR octet_length(p_detail) > 65536 THEN
        RAISE EXCEPTION 'an audit entry''s action is at most 200 bytes and its detail 64 KiB'
            USING ERRCODE = 'check_violation';
    END IF;
    IF p_action ~ '^(payout|batch) (recorded|recorded, awaiting approval|approved|rejected|pending|not-needed|queued|sending|accepted|unknown|not-created|status)$' THEN
        RAISE EXCEPTION 'the audit entry % is written by the team journal itself, not by hand', p_action
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN paydesk.audit_write(p_action, p_detail, p_merchant);
END
$$;
REVOKE ALL ON FUNCTION paydesk.audit_append(text, text, text) FROM PUBLIC;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA paydesk FROM PUBLIC;
GRANT SELECT ON paydesk.batch_approval_rules TO :operators;
GRANT SELECT, INSERT, UPDATE ON paydesk.batches TO :operators;
GRANT USAGE ON SEQUENCE paydesk.batches_id_seq TO :operators;
GRANT EXECUTE ON FUNCTION paydesk.audit_append(text, text, text), paydesk.batch_totals(jsonb),
    paydesk.batch_insert(), paydesk.batch_update(), paydesk.batch_audit() TO :operators;
