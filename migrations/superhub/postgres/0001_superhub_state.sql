-- Key/value state of the super hub itself (change_seq).
create table superhub_state (
    key text primary key,
    value text not null,
    updated_at bigint not null
);
