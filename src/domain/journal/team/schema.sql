-- The team journal, version 1. Installed by the database's owner (`paydesk journal team-setup`);
-- operators are login roles that are members of the operators' group role (:operators below),
-- which holds only the grants listed at the end: no DELETE anywhere, no INSERT or UPDATE on
-- the audit log, no write on the approval rules. Every rule that keeps money safe is a trigger
-- here, so that a client (patched or not) with an operator's grants cannot get round it.

CREATE SCHEMA paydesk;

CREATE TABLE paydesk.meta (
    key text PRIMARY KEY,
    value text NOT NULL
);

-- Which payouts need a second person: those of `merchant` (a profile's platform_id) whose
-- amount is at least `threshold_fen` (0: all of them). Written by the owner only.
CREATE TABLE paydesk.approval_rules (
    merchant text PRIMARY KEY,
    threshold_fen bigint NOT NULL CHECK (threshold_fen >= 0),
    set_by text NOT NULL DEFAULT session_user,
    set_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE paydesk.payouts (
    id bigserial PRIMARY KEY,
    merchant text NOT NULL,
    payout_cl_id text NOT NULL,
    amount_fen bigint NOT NULL CHECK (amount_fen > 0),
    bank_name text NOT NULL,
    recipient_name text NOT NULL,
    account_masked text NOT NULL,
    account_fingerprint text NOT NULL,
    request_json text NOT NULL,
    state text NOT NULL CHECK (state IN ('queued', 'sending', 'accepted', 'rejected', 'unknown', 'not-created')),
    payout_id text,
    reject_code text,
    reject_meaning text,
    reject_message text,
    unknown_why text,
    gateway_status bigint,
    gateway_status_label text,
    is_final boolean NOT NULL DEFAULT false,
    final_at bigint,
    attempts bigint NOT NULL DEFAULT 0,
    checks bigint NOT NULL DEFAULT 0,
    next_check_at bigint,
    last_sent_at bigint,
    body_sha256 text,
    import_id text,
    import_row bigint,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    unverified_at bigint,
    origin text,
    -- Who is who: set by the triggers from session_user, never by a client.
    created_by text NOT NULL,
    approval text NOT NULL CHECK (approval IN ('not-needed', 'pending', 'approved', 'rejected')),
    decided_by text,
    decided_at timestamptz,
    decision_reason text,
    sent_by text,
    -- The claim: which Paydesk (host:pid:random) and which server session hold the row while
    -- it is sent; a claim whose session is gone belongs to a sender that stopped.
    claimed_by text,
    claimed_at bigint,
    claim_pid integer,
    claim_backend_start timestamptz,
    UNIQUE (merchant, payout_cl_id)
);
CREATE INDEX payouts_state ON paydesk.payouts (merchant, state);
CREATE INDEX payouts_import ON paydesk.payouts (import_id, import_row);
CREATE INDEX payouts_duplicates ON paydesk.payouts (merchant, account_fingerprint, amount_fen);
CREATE INDEX payouts_pending ON paydesk.payouts (merchant) WHERE approval = 'pending';

-- Every send and check of a payout, in order (as the desktop journal's `attempts`), written
-- only through the two functions below, in the name of the session that made it; the oldest
-- beyond 100 per payout go.
CREATE TABLE paydesk.attempts (
    id bigserial PRIMARY KEY,
    merchant text NOT NULL,
    payout_cl_id text NOT NULL,
    number bigint NOT NULL,
    kind text NOT NULL CHECK (kind IN ('send', 'check')),
    started_at bigint NOT NULL,
    body_sha256 text,
    finished_at bigint,
    outcome text,
    gateway_code text,
    code_meaning text,
    http_status bigint,
    summary text,
    reconstructed boolean NOT NULL DEFAULT false,
    actor text NOT NULL,
    UNIQUE (merchant, payout_cl_id, number)
);

CREATE FUNCTION paydesk.attempt_add(p_merchant text, p_cl_id text, p_kind text, p_at bigint,
    p_body text, p_finished bigint, p_outcome text, p_code text, p_meaning text, p_http bigint,
    p_summary text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = paydesk, pg_temp AS $$
DECLARE
    v_number bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM paydesk.payouts WHERE merchant = p_merchant AND payout_cl_id = p_cl_id) THEN
        RAISE EXCEPTION 'no payout % to record an attempt of', p_cl_id USING ERRCODE = 'check_violation';
    END IF;
    -- A send is recorded only by the session that holds the payout's claim (in the claim's
    -- transaction), so that no operator can make up sends of another's payout.
    IF p_kind = 'send' AND NOT EXISTS (SELECT 1 FROM paydesk.payouts WHERE merchant = p_merchant
            AND payout_cl_id = p_cl_id AND state = 'sending' AND claim_pid = pg_backend_pid()) THEN
        RAISE EXCEPTION 'payout %: only the session sending it records its send', p_cl_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('paydesk.attempts:' || p_merchant || ':' || p_cl_id));
    SELECT coalesce(max(number), 0) + 1 INTO v_number FROM paydesk.attempts
        WHERE merchant = p_merchant AND payout_cl_id = p_cl_id;
    INSERT INTO paydesk.attempts (merchant, payout_cl_id, number, kind, started_at, body_sha256, finished_at,
        outcome, gateway_code, code_meaning, http_status, summary, actor)
    VALUES (p_merchant, p_cl_id, v_number, p_kind, p_at, p_body, p_finished, p_outcome, p_code, p_meaning,
        p_http, p_summary, session_user);
    -- Only checks beyond the last 100 go: every send stays on record (sends need a claim each).
    DELETE FROM paydesk.attempts WHERE merchant = p_merchant AND payout_cl_id = p_cl_id AND kind = 'check'
        AND number <= v_number - 100;
END
$$;

-- Finishes the payout's open send with its reply; `false` when no send was open.
CREATE FUNCTION paydesk.attempt_finish(p_merchant text, p_cl_id text, p_at bigint, p_outcome text,
    p_code text, p_meaning text, p_http bigint, p_summary text)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = paydesk, pg_temp AS $$
BEGIN
    UPDATE paydesk.attempts SET finished_at = p_at, outcome = p_outcome, gateway_code = p_code,
        code_meaning = p_meaning, http_status = p_http, summary = p_summary
    WHERE id = (SELECT max(id) FROM paydesk.attempts WHERE merchant = p_merchant AND payout_cl_id = p_cl_id
        AND kind = 'send' AND finished_at IS NULL AND NOT reconstructed AND actor = session_user);
    RETURN FOUND;
END
$$;

-- One chain for the whole team: each entry's hash covers the previous one's (the same hash as
-- the desktop journal's audit log), appended only by `paydesk.audit_append` under one lock.
CREATE TABLE paydesk.audit (
    id bigserial PRIMARY KEY,
    at bigint NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    detail text NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL
);

-- Audit chains carried over from desktop journals by `paydesk journal migrate`, each kept as
-- it was (its own chain, checked before and after); the team chain names each one's head.
CREATE TABLE paydesk.migrated_audit (
    source text NOT NULL,
    seq bigint NOT NULL,
    at bigint NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    detail text NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL,
    PRIMARY KEY (source, seq)
);

-- The hash of the desktop journal's audit log: SHA-256 over each part's byte length (8 bytes,
-- big-endian) and bytes.
CREATE FUNCTION paydesk.audit_hash(prev text, at bigint, actor text, action text, detail text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(
        int8send(octet_length(convert_to(prev, 'UTF8'))::bigint) || convert_to(prev, 'UTF8') ||
        int8send(octet_length(convert_to(at::text, 'UTF8'))::bigint) || convert_to(at::text, 'UTF8') ||
        int8send(octet_length(convert_to(actor, 'UTF8'))::bigint) || convert_to(actor, 'UTF8') ||
        int8send(octet_length(convert_to(action, 'UTF8'))::bigint) || convert_to(action, 'UTF8') ||
        int8send(octet_length(convert_to(detail, 'UTF8'))::bigint) || convert_to(detail, 'UTF8')
    ), 'hex')
$$;

-- Appends to the team's audit chain in the name of the connected role (never a name a client
-- gives), at the server's time, and tells every listening console. One writer at a time: the
-- lock is held to the end of the transaction, so the chain never forks.
-- Not granted to operators: the triggers write through it.
CREATE FUNCTION paydesk.audit_write(p_action text, p_detail text, p_merchant text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = paydesk, pg_temp AS $$
DECLARE
    v_prev text;
    v_at bigint := extract(epoch FROM clock_timestamp())::bigint;
    v_actor text := session_user;
    v_id bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(7305940);
    SELECT hash INTO v_prev FROM paydesk.audit ORDER BY id DESC LIMIT 1;
    v_prev := coalesce(v_prev, '');
    INSERT INTO paydesk.audit (at, actor, action, detail, prev_hash, hash)
    VALUES (v_at, v_actor, p_action, p_detail, v_prev,
            paydesk.audit_hash(v_prev, v_at, v_actor, p_action, p_detail))
    RETURNING id INTO v_id;
    PERFORM pg_notify('paydesk_journal', json_build_object(
        'audit_id', v_id, 'merchant', p_merchant, 'action', p_action, 'actor', v_actor)::text);
    RETURN v_id;
END
$$;

-- What Paydesk itself audits (confirmations, retries): anything but the entries only the
-- triggers write (a payout recorded, decided, or moved), which no operator writes by hand.
CREATE FUNCTION paydesk.audit_append(p_action text, p_detail text, p_merchant text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = paydesk, pg_temp AS $$
BEGIN
    -- Bounded: every console that checks the chain reads every entry.
    IF octet_length(p_action) > 200 OR octet_length(p_detail) > 65536 THEN
        RAISE EXCEPTION 'an audit entry''s action is at most 200 bytes and its detail 64 KiB'
            USING ERRCODE = 'check_violation';
    END IF;
    IF p_action IN ('payout recorded', 'payout recorded, awaiting approval', 'payout approved',
            'payout rejected', 'payout pending', 'payout not-needed', 'payout queued', 'payout sending',
            'payout accepted', 'payout unknown', 'payout not-created') THEN
        RAISE EXCEPTION 'the audit entry % is written by the team journal itself, not by hand', p_action
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN paydesk.audit_write(p_action, p_detail, p_merchant);
END
$$;

-- Whether the server session that claimed a row still runs (operators cannot read other
-- roles' sessions themselves).
CREATE FUNCTION paydesk.session_alive(p_pid integer, p_start timestamptz)
RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = p_pid AND backend_start = p_start)
$$;

-- The role that owns the team journal (set it up; may carry desktop journals over).
CREATE FUNCTION paydesk.owner() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT pg_get_userbyid(nspowner)::text FROM pg_namespace WHERE nspname = 'paydesk'
$$;

CREATE FUNCTION paydesk.money(fen bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT '¥' || to_char(fen / 100, 'FM999999999999990') || '.' || lpad((fen % 100)::text, 2, '0')
$$;

-- A new intent: who made it comes from the session; whether it needs approval from the rules;
-- what it says (amount, account) must be what its request says.
CREATE FUNCTION paydesk.payout_insert() RETURNS trigger LANGUAGE plpgsql
SET search_path = paydesk, pg_temp AS $$
DECLARE
    v_request jsonb;
    v_threshold bigint;
BEGIN
    -- Bounded: every console reads these rows (a payout request is a few hundred bytes).
    IF octet_length(NEW.request_json) > 16384 THEN
        RAISE EXCEPTION 'payout %: its request is longer than 16 KiB', NEW.payout_cl_id USING ERRCODE = 'check_violation';
    END IF;
    BEGIN
        v_request := NEW.request_json::jsonb;
    EXCEPTION WHEN others THEN
        RAISE EXCEPTION 'payout %: its request is not JSON', NEW.payout_cl_id USING ERRCODE = 'check_violation';
    END;
    IF v_request->>'payout_cl_id' IS DISTINCT FROM NEW.payout_cl_id
        OR (v_request->>'amount') IS NULL
        OR (v_request->>'amount') !~ '^[0-9]{1,18}$'
        OR (v_request->>'amount')::bigint <> NEW.amount_fen
        OR encode(sha256(convert_to(regexp_replace(coalesce(v_request->>'number', ''), '[^0-9]', '', 'g'), 'UTF8')), 'hex')
            <> NEW.account_fingerprint
        OR v_request->>'name' IS DISTINCT FROM NEW.recipient_name
        OR v_request->>'bank_name' IS DISTINCT FROM NEW.bank_name THEN
        RAISE EXCEPTION 'payout %: its columns do not match its request', NEW.payout_cl_id
            USING ERRCODE = 'check_violation';
    END IF;
    NEW.created_by := session_user;
    NEW.decided_by := NULL;
    NEW.decided_at := NULL;
    NEW.decision_reason := NULL;
    NEW.sent_by := NULL;
    SELECT threshold_fen INTO v_threshold FROM paydesk.approval_rules WHERE merchant = NEW.merchant;
    IF v_threshold IS NOT NULL AND NEW.amount_fen >= v_threshold THEN
        NEW.approval := 'pending';
    ELSE
        NEW.approval := 'not-needed';
    END IF;
    -- Nothing is born sent: an intent starts queued and is claimed to be sent. Only the owner,
    -- carrying a desktop journal over (`paydesk journal migrate`), records rows already sent.
    IF NEW.state <> 'queued' AND session_user <> paydesk.owner() THEN
        RAISE EXCEPTION 'payout %: an intent is recorded as queued, not %', NEW.payout_cl_id, NEW.state
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

-- A change to a payout: what it pays is fixed once recorded; approval is decided once, by a
-- role other than the one that recorded it; nothing moves to `sending` unless approved (or
-- not in need of approval), and the session that moves it is recorded as its sender.
CREATE FUNCTION paydesk.payout_update() RETURNS trigger LANGUAGE plpgsql
SET search_path = paydesk, pg_temp AS $$
BEGIN
    IF NEW.merchant IS DISTINCT FROM OLD.merchant OR NEW.payout_cl_id IS DISTINCT FROM OLD.payout_cl_id
        OR NEW.amount_fen IS DISTINCT FROM OLD.amount_fen OR NEW.request_json IS DISTINCT FROM OLD.request_json
        OR NEW.account_fingerprint IS DISTINCT FROM OLD.account_fingerprint
        OR NEW.account_masked IS DISTINCT FROM OLD.account_masked
        OR NEW.bank_name IS DISTINCT FROM OLD.bank_name OR NEW.recipient_name IS DISTINCT FROM OLD.recipient_name
        OR NEW.created_by IS DISTINCT FROM OLD.created_by OR NEW.created_at IS DISTINCT FROM OLD.created_at
        OR NEW.import_id IS DISTINCT FROM OLD.import_id OR NEW.import_row IS DISTINCT FROM OLD.import_row
        OR (OLD.origin IS NOT NULL AND NEW.origin IS DISTINCT FROM OLD.origin) THEN
        RAISE EXCEPTION 'payout %: what a recorded payout pays and who recorded it cannot change', OLD.payout_cl_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.approval IS DISTINCT FROM OLD.approval THEN
        IF OLD.approval <> 'pending' OR NEW.approval NOT IN ('approved', 'rejected') THEN
            RAISE EXCEPTION 'payout %: its approval is % and cannot become %', OLD.payout_cl_id, OLD.approval, NEW.approval
                USING ERRCODE = 'check_violation';
        END IF;
        IF session_user = OLD.created_by THEN
            RAISE EXCEPTION 'payout %: % recorded it and cannot also % it (four eyes)', OLD.payout_cl_id, session_user,
                CASE NEW.approval WHEN 'approved' THEN 'approve' ELSE 'reject' END
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF OLD.state <> 'queued' THEN
            RAISE EXCEPTION 'payout %: it is % and its approval can no longer change', OLD.payout_cl_id, OLD.state
                USING ERRCODE = 'check_violation';
        END IF;
        IF octet_length(NEW.decision_reason) > 4096 THEN
            RAISE EXCEPTION 'payout %: a reason is at most 4 KiB', OLD.payout_cl_id USING ERRCODE = 'check_violation';
        END IF;
        NEW.decided_by := session_user;
        NEW.decided_at := now();
    ELSE
        NEW.decided_by := OLD.decided_by;
        NEW.decided_at := OLD.decided_at;
        NEW.decision_reason := OLD.decision_reason;
    END IF;
    -- Where a payout's state may go: nothing goes back to queued, an accepted payout stays
    -- accepted, and only a send (or a lookup after one) ends refused, unknown or not created,
    -- so that no operator can put a paid payout back where a retry sends it again.
    IF NEW.state IS DISTINCT FROM OLD.state AND NOT (
        (NEW.state = 'sending' AND OLD.state IN ('queued', 'not-created', 'rejected', 'unknown'))
        OR (NEW.state IN ('rejected', 'unknown') AND OLD.state = 'sending')
        OR (NEW.state = 'accepted' AND OLD.state IN ('sending', 'unknown', 'rejected', 'not-created'))
        OR (NEW.state = 'not-created' AND OLD.state IN ('sending', 'unknown'))) THEN
        RAISE EXCEPTION 'payout %: it is % and cannot become %', OLD.payout_cl_id, OLD.state, NEW.state
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.state = 'sending' AND OLD.state <> 'sending' THEN
        IF NEW.approval NOT IN ('not-needed', 'approved') THEN
            RAISE EXCEPTION 'payout %: it needs approval by another operator before it is sent (approval: %)',
                OLD.payout_cl_id, NEW.approval USING ERRCODE = 'insufficient_privilege';
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

-- Every intent, decision, claim and outcome joins the team's audit chain in the session's name.
CREATE FUNCTION paydesk.payout_audit() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = paydesk, pg_temp AS $$
DECLARE
    v_what text := NEW.payout_cl_id || ' ' || paydesk.money(NEW.amount_fen) || ' to ' || NEW.account_masked;
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM paydesk.audit_write(
            CASE NEW.approval WHEN 'pending' THEN 'payout recorded, awaiting approval' ELSE 'payout recorded' END,
            v_what, NEW.merchant);
    ELSE
        IF NEW.approval IS DISTINCT FROM OLD.approval THEN
            PERFORM paydesk.audit_write('payout ' || NEW.approval,
                v_what || coalesce(' (' || NEW.decision_reason || ')', ''), NEW.merchant);
        END IF;
        IF NEW.state IS DISTINCT FROM OLD.state THEN
            PERFORM paydesk.audit_write('payout ' || NEW.state,
                v_what || coalesce(' payout ID ' || NEW.payout_id, '') || coalesce(' code ' || NEW.reject_code, '')
                    || coalesce(' (' || NEW.unknown_why || ')', ''), NEW.merchant);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER payout_insert BEFORE INSERT ON paydesk.payouts
    FOR EACH ROW EXECUTE FUNCTION paydesk.payout_insert();
CREATE TRIGGER payout_update BEFORE UPDATE ON paydesk.payouts
    FOR EACH ROW EXECUTE FUNCTION paydesk.payout_update();
CREATE TRIGGER payout_audit AFTER INSERT OR UPDATE ON paydesk.payouts
    FOR EACH ROW EXECUTE FUNCTION paydesk.payout_audit();

-- An intent cannot be deleted, and the audit chain cannot be edited, whoever asks short of the
-- owner dropping the triggers (which the audit of the server, not Paydesk, must catch).
CREATE FUNCTION paydesk.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% of %.% is not allowed in the team journal', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER payouts_no_delete BEFORE DELETE ON paydesk.payouts
    FOR EACH ROW EXECUTE FUNCTION paydesk.refuse();
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON paydesk.audit
    FOR EACH ROW EXECUTE FUNCTION paydesk.refuse();
CREATE TRIGGER migrated_audit_append_only BEFORE UPDATE OR DELETE ON paydesk.migrated_audit
    FOR EACH ROW EXECUTE FUNCTION paydesk.refuse();

REVOKE ALL ON SCHEMA paydesk FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA paydesk FROM PUBLIC;
GRANT USAGE ON SCHEMA paydesk TO :operators;
GRANT SELECT ON paydesk.meta, paydesk.approval_rules, paydesk.audit, paydesk.migrated_audit, paydesk.attempts
    TO :operators;
GRANT SELECT, INSERT, UPDATE ON paydesk.payouts TO :operators;
GRANT USAGE ON SEQUENCE paydesk.payouts_id_seq TO :operators;
GRANT EXECUTE ON FUNCTION paydesk.audit_append(text, text, text), paydesk.session_alive(integer, timestamptz),
    paydesk.audit_hash(text, bigint, text, text, text), paydesk.money(bigint), paydesk.owner(),
    paydesk.attempt_add(text, text, text, bigint, text, bigint, text, text, text, bigint, text),
    paydesk.attempt_finish(text, text, bigint, text, text, text, bigint, text) TO :operators;
GRANT EXECUTE ON FUNCTION paydesk.payout_insert(), paydesk.payout_update(), paydesk.payout_audit(), paydesk.refuse()
    TO :operators;
