-- Relevance tiers and row keys for text search on SQLite (superhub.md §5.1, §11; migrations/README.md,
-- dialect-specific search indexes):
-- * `hubs_fts_names` indexes the name and slug alone (same `rowid` as `hubs_fts`): relevance ranks
--   first the hubs whose name and slug hold every token, then those holding some token, from this
--   small index, and ranks the other matches only once those run out;
-- * `hubs.search_rowid` is the hub's `hubs_fts` rowid (`store::fts_rowid`, written with the index
--   rows), so a match joins to its hub by an integer key without reading the index's stored columns,
--   and an order's index can test "is this hub a match" per hub;
-- * the order indexes and `hubs_search_text` (which supersedes `hubs_search_match`) carry
--   `search_rowid`, so both ways read indexes, not hub rows, until the page is known.
create virtual table hubs_fts_names using fts5 (
    name,
    slug,
    tokenize = 'unicode61 remove_diacritics 2'
);
insert into hubs_fts_names (rowid, name, slug) select rowid, name, slug from hubs_fts;
alter table hubs add column search_rowid bigint;
create table search_rowids_backfill as select rowid as search_rowid, id from hubs_fts;
create index search_rowids_backfill_id on search_rowids_backfill (id);
update hubs set search_rowid = (select b.search_rowid from search_rowids_backfill b where b.id = hubs.id);
drop table search_rowids_backfill;
drop index hubs_search_match;
drop index hubs_search_members;
drop index hubs_search_uptime;
drop index hubs_search_newest;
create index hubs_search_text on hubs (search_rowid, state, hidden_at, region, access, join_mode, languages,
    member_count, uptime_30d, first_listed_at, id);
create index hubs_search_members on hubs (member_count desc, id, search_rowid, tags_text, languages, region,
    join_mode, access) where state = 'listed' and hidden_at is null;
create index hubs_search_uptime on hubs (uptime_30d desc, id, search_rowid, tags_text, languages, region,
    join_mode, access) where state = 'listed' and hidden_at is null;
create index hubs_search_newest on hubs (first_listed_at desc, id, search_rowid, tags_text, languages, region,
    join_mode, access) where state = 'listed' and hidden_at is null;
