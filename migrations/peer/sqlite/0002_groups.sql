-- Groups (peer.md §8, §12): hosted groups, their members and access lists, and our
-- subscriptions to groups hosted elsewhere. Times are unix ms; booleans are 0/1 integers.

create table _groups (
    id text primary key,
    name text not null,
    owner text not null,
    group_type text not null,
    group_context text not null default '',
    max_members integer not null default 0,
    host_joined integer not null default 0,
    volatile integer not null default 0,
    default_role text not null default 'viewer',
    roles text not null default '{}',
    join_policy text not null default 'open' check (join_policy in ('open', 'voucher', 'invite')),
    community text not null default '',
    state text,
    created_at integer not null
);

create table _group_members (
    group_id text not null,
    peer_id text not null,
    role text not null default 'viewer',
    name text,
    joined_at integer not null,
    primary key (group_id, peer_id)
);

create table _group_access (
    group_id text not null,
    peer_id text not null,
    state text not null check (state in ('invited', 'banned')),
    created_at integer not null,
    expires_at integer,
    primary key (group_id, peer_id)
);

create table _group_subscriptions (
    host_peer_id text not null,
    group_id text not null,
    group_name text,
    group_type text,
    role text not null default 'member',
    subscribed_at integer not null,
    max_members integer not null default 0,
    volatile integer not null default 0,
    host_name text,
    community text not null default '',
    primary key (host_peer_id, group_id)
);
