-- Search (superhub.md §5.1) on SQLite. Large envelopes push most columns of a hub row into overflow
-- pages, so search reads indexes, not rows, until it has its page (migrations/README.md,
-- dialect-specific search indexes):
-- * one partial index per order over listed, unhidden hubs, carrying the filter columns, so a
--   filtered listing is an index scan (a descending index keeps nulls last by itself);
-- * `hubs_search_live` covers the join from `hubs_fts` matches to the listed state and sort keys.
create index hubs_search_members on hubs (member_count desc, id, tags_text, languages, region, join_mode, access)
    where state = 'listed' and hidden_at is null;
create index hubs_search_uptime on hubs (uptime_30d desc, id, tags_text, languages, region, join_mode, access)
    where state = 'listed' and hidden_at is null;
create index hubs_search_newest on hubs (first_listed_at desc, id, tags_text, languages, region, join_mode, access)
    where state = 'listed' and hidden_at is null;
create index hubs_search_live on hubs (id, state, hidden_at, member_count, uptime_30d, first_listed_at);
