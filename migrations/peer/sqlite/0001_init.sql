-- The peer's own tables (peer.md §12). Times are unix ms; booleans are 0/1 integers.

create table _hubs (
    url text primary key,
    source text not null check (source in ('config', 'cli', 'api')),
    enabled integer not null default 1,
    added_at integer not null
);

create table _memberships (
    hub_url text primary key,
    hub_id text not null default '',
    community text not null default '',
    state text not null,
    tier text,
    email text not null default '',
    voucher text,
    voucher_expires_at integer,
    last_error text,
    updated_at integer not null
);

create table _peer_cache (
    peer_id text primary key,
    label text,
    email text,
    avatar_hash text,
    client_version text,
    public_key text not null default '',
    addrs text,
    protocols text,
    last_seen integer,
    favorite integer not null default 0,
    blocked integer not null default 0
);

create table _chat_messages (
    id integer primary key autoincrement,
    peer_id text not null,
    from_id text not null,
    content text not null,
    ts integer not null,
    msg_id text
);

create index _chat_messages_peer_ts on _chat_messages (peer_id, ts desc);
