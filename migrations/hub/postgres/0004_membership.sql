-- Membership flows (hub.md §6.8–§6.10, §7.4, §9, §14): email tokens, browser sessions, bind codes,
-- invites, applications, subscriptions (filled by billing later; read by the recompute now),
-- voucher revocations and the admin audit.
--
-- email_tokens carries the PeerSig proof of the join request (peer_proof_ts, peer_proof_sig) so that
-- the binding created when the token is consumed stores the proof (§6.1 rule 2).
create table email_tokens (
    token_hash text primary key,
    purpose text not null check (purpose in ('join', 'login', 'change_email')),
    email text not null,
    account_id text references accounts (id) on delete cascade,
    peer_id text,
    peer_label text,
    peer_proof_ts bigint,
    peer_proof_sig text,
    invite_code text,
    message text,
    request_ip text,
    created_at bigint not null,
    expires_at bigint not null,
    consumed_at bigint
);

create index email_tokens_email on email_tokens (email);
create index email_tokens_expires_at on email_tokens (expires_at);
create index email_tokens_peer_id on email_tokens (peer_id);

create table bind_codes (
    code_hash text primary key,
    account_id text not null references accounts (id) on delete cascade,
    created_at bigint not null,
    expires_at bigint not null,
    consumed_at bigint,
    consumed_by text
);

create table sessions (
    id_hash text primary key,
    account_id text not null references accounts (id) on delete cascade,
    created_at bigint not null,
    expires_at bigint not null,
    last_used_at bigint not null,
    ip text,
    user_agent text
);

create index sessions_account_id on sessions (account_id);

create table invites (
    code text primary key,
    note text,
    max_uses bigint not null,
    uses bigint not null default 0,
    created_by text not null,
    created_at bigint not null,
    expires_at bigint,
    revoked_at bigint
);

create table applications (
    id text primary key,
    account_id text references accounts (id) on delete set null,
    email text not null,
    message text not null,
    status text not null check (status in ('pending', 'approved', 'rejected')),
    created_at bigint not null,
    decided_at bigint,
    decided_by text,
    decision_reason text
);

create index applications_status_created_at on applications (status, created_at);

create table subscriptions (
    id text primary key,
    account_id text not null references accounts (id) on delete cascade,
    customer_id text not null,
    plan_id text,
    price_id text,
    status text not null,
    cancel_scheduled_at bigint,
    current_period_end bigint,
    past_due_since bigint,
    last_event_created bigint not null,
    created_at bigint not null,
    updated_at bigint not null
);

create index subscriptions_account_id on subscriptions (account_id);
create index subscriptions_customer_id on subscriptions (customer_id);

create table voucher_revocations (
    peer_id text primary key,
    revoked_before bigint not null,
    reason text not null,
    created_at bigint not null
);

create index voucher_revocations_created_at on voucher_revocations (created_at);

create table admin_audit (
    id text primary key,
    at bigint not null,
    actor text not null,
    action text not null,
    target_type text not null,
    target_id text not null,
    details text not null,
    ip text
);

create index admin_audit_at on admin_audit (at);
create index admin_audit_target_id on admin_audit (target_id);
