-- Accounts and the PeerIds bound to them (hub.md §6.1, §14). An account is an email address that
-- can bind several PeerIds, each bind proven by a signature of that peer's key.
create table accounts (
    id text primary key,
    email text unique,
    email_verified_at bigint,
    state text not null check (state in ('pending_email', 'pending_approval', 'active', 'grace', 'lapsed', 'banned')),
    tier text not null check (tier in ('guest', 'member', 'paid', 'comped')),
    stripe_customer_id text unique,
    joined_via_invite text,
    comped_at bigint,
    comped_until bigint,
    comp_note text,
    grace_until bigint,
    ever_paid_at bigint,
    banned_at bigint,
    ban_reason text,
    created_at bigint not null,
    updated_at bigint not null
);

create index accounts_state on accounts (state);
create index accounts_tier on accounts (tier);

create table peer_bindings (
    peer_id text primary key,
    account_id text not null references accounts (id) on delete cascade,
    label text,
    bound_via text not null check (bound_via in ('join', 'bind_code', 'autojoin')),
    proof_ts bigint not null,
    proof_sig text not null,
    bound_at bigint not null,
    last_seen_at bigint
);

create index peer_bindings_account_id on peer_bindings (account_id);
