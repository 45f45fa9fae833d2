-- The directory (superhub.md §3, §4, §5.4, §7, §11): the latest record per hub with its probe state,
-- the latest tombstone per hub, slug-claim evidence, probe history, the change feed and the
-- federation peers. The search index is the one dialect-specific object (migrations/README.md).
create table hubs (
    id text primary key,
    envelope text not null,
    seq bigint not null,
    slug text not null,
    slug_text text not null,
    name text not null,
    description text not null,
    icon_url text not null,
    tags text not null,
    tags_text text not null,
    languages text not null,
    region text not null,
    join_mode text not null,
    access text not null,
    plans text not null,
    relay text not null,
    multiaddrs text not null,
    http_url text not null,
    software text not null,
    member_count bigint,
    issued_at bigint not null,
    expires_at bigint not null,
    state text not null check (state in ('pending_probe', 'listed', 'unreachable', 'probe_failed', 'expired', 'tombstoned')),
    origin text not null,
    received_from text not null,
    received_at bigint not null,
    first_seen_at bigint not null,
    probed_http_url text,
    probed_multiaddrs text,
    first_listed_at bigint,
    last_probe_at bigint,
    next_probe_at bigint,
    consecutive_failures bigint not null default 0,
    uptime_30d double precision,
    rtt_ms bigint,
    p2p_ok_at bigint,
    p2p_rtt_ms bigint,
    hidden_at bigint,
    hidden_reason text,
    hidden_by text,
    updated_at bigint not null
);

create index hubs_state on hubs (state);
create index hubs_slug on hubs (slug);
create index hubs_next_probe_at on hubs (next_probe_at);
create index hubs_state_members on hubs (state, member_count);
create index hubs_state_uptime on hubs (state, uptime_30d);
create index hubs_state_listed on hubs (state, first_listed_at);
create index hubs_expires_at on hubs (expires_at);

create table tombstones (
    hub_id text primary key,
    envelope text not null,
    seq bigint not null,
    issued_at bigint not null,
    reason text not null,
    origin text not null,
    received_from text not null,
    received_at bigint not null
);

create table slug_claims (
    slug text not null,
    hub_id text not null,
    claimed_at bigint not null,
    witnessed_at bigint not null,
    envelope text not null,
    source text not null,
    updated_at bigint not null,
    primary key (slug, hub_id)
);

create index slug_claims_slug_claimed on slug_claims (slug, claimed_at);

create table probes (
    id text primary key,
    hub_id text not null,
    at bigint not null,
    kind text not null check (kind in ('http', 'p2p')),
    outcome text not null,
    rtt_ms bigint
);

create index probes_hub_at on probes (hub_id, at);

create table changes (
    seq bigint primary key,
    kind text not null check (kind in ('hub-record', 'hub-tombstone', 'slug-claim', 'moderation-note')),
    change_key text not null,
    created_at bigint not null,
    unique (kind, change_key)
);

create table federation_peers (
    id text primary key,
    url text not null,
    name text not null,
    cursor text,
    state text not null check (state in ('ok', 'backoff', 'dead', 'misconfigured')),
    consecutive_failures bigint not null default 0,
    last_attempt_at bigint,
    last_success_at bigint,
    next_attempt_at bigint,
    last_error text
);

-- Full-text search (superhub.md §5.1), written by the store in the same transaction as `hubs`.
create virtual table hubs_fts using fts5 (
    id unindexed,
    name,
    slug,
    tags,
    description,
    tokenize = 'unicode61 remove_diacritics 2'
);
