-- Search (superhub.md §5.1) on Postgres: one partial index per order over listed, unhidden hubs,
-- with `nulls last` spelt out to match the order by and the id as the tie-break. SQLite's twin
-- differs (migrations/README.md, dialect-specific search indexes).
create index hubs_search_members on hubs (member_count desc nulls last, id)
    where state = 'listed' and hidden_at is null;
create index hubs_search_uptime on hubs (uptime_30d desc nulls last, id)
    where state = 'listed' and hidden_at is null;
create index hubs_search_newest on hubs (first_listed_at desc nulls last, id)
    where state = 'listed' and hidden_at is null;
