-- Relevance tiers for text search on Postgres (superhub.md §5.1, §11; migrations/README.md,
-- dialect-specific search indexes): `search_names` holds the name and slug alone, with its own GIN
-- index, so relevance ranks first the hubs whose name and slug hold every token, then those
-- holding some token, from this small index, and ranks the other matches only once those run out.
-- SQLite's twin is the FTS5 table `hubs_fts_names` plus the `hubs.search_rowid` key.
alter table hubs add column search_names tsvector generated always as (
    setweight(to_tsvector('simple', name), 'A') || setweight(to_tsvector('simple', slug_text), 'A')
) stored;
create index hubs_search_names on hubs using gin (search_names);
