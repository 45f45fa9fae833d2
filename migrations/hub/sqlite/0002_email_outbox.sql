-- The durable outbox of hub.md §6.8 5a: a message is written here in the transaction that creates
-- its token and sent by a worker, at least once, with the same Message-ID on every attempt. The
-- body (which holds the raw link) is cleared once the message is sent or given up.
create table email_outbox (
    id text primary key,
    message_id text not null unique,
    purpose text not null check (purpose in ('join', 'login', 'change_email')),
    to_addr text not null,
    subject text not null,
    body text,
    attempts bigint not null default 0,
    next_attempt_at bigint not null,
    last_error text,
    created_at bigint not null,
    sent_at bigint
);

create index email_outbox_next_attempt_at on email_outbox (next_attempt_at);
