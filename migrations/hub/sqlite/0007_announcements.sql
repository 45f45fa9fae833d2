-- Announcing to super hubs (hub.md §11.4, §14): one row per configured super hub with the outcome of
-- the latest announcement, shown in /api/v1/info as `superhubs`.
create table announcements (
    superhub_url text primary key,
    last_attempt_at bigint,
    last_success_at bigint,
    last_state text,
    last_error text,
    next_attempt_at bigint
);
