-- Billing (hub.md §8, §14): one row per Stripe event seen, committed with the event's effects so a
-- redelivery is a no-op; donations and other one-off payments.
create table stripe_events (
    event_id text primary key,
    type text not null,
    created bigint not null,
    source text not null check (source in ('webhook', 'reconcile')),
    outcome text not null,
    received_at bigint not null
);

create index stripe_events_created on stripe_events (created);

create table payments (
    id text primary key,
    account_id text references accounts (id) on delete set null,
    kind text not null check (kind in ('donation')),
    amount bigint not null,
    currency text not null,
    status text not null,
    created_at bigint not null
);

create index payments_account_id on payments (account_id);
create index payments_created_at on payments (created_at);
