-- Key/value state of the hub itself (record_seq, reconcile_cursor, decommissioned_at).
create table hub_state (
    key text primary key,
    value text not null,
    updated_at bigint not null
);
