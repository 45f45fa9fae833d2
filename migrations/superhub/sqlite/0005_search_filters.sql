-- Search filters (superhub.md §5.1, §11) that few hubs match are looked up rather than tested per
-- hub along an order's index (the store counts a value's hubs first, as for tags):
-- * `hub_languages`: one row per (language, hub) of the hub's stored record, written in the same
--   transaction as the hub row like `hub_tags` (the backfill's JSON function differs by dialect,
--   and SQLite also gets the covering index `hubs_search_match`; migrations/README.md);
-- * `hubs_search_region` serves `lower(region) = <region>`, the spelling the store uses for a
--   rare region only: a common region stays a per-hub test on the order's index (`region =`), which
--   this index cannot serve. Regions are stored lower-case, so both spellings match the same hubs.
create table hub_languages (
    language text not null,
    hub_id text not null,
    primary key (language, hub_id)
);
create index hub_languages_hub on hub_languages (hub_id);
create index hubs_search_region on hubs (lower(region), id)
    where state = 'listed' and hidden_at is null;
-- SQLite only: the join from `hubs_fts` matches to `hubs` also covers the filter columns, so a text
-- search with filters reads no hub row (whose columns after the envelope sit in overflow pages)
-- until it has its page; it supersedes `hubs_search_live` (migration 0003).
create index hubs_search_match on hubs (id, state, hidden_at, region, access, join_mode, languages,
    member_count, uptime_30d, first_listed_at);
drop index hubs_search_live;
insert into hub_languages (language, hub_id)
    select distinct j.value, h.id from hubs h, json_each(h.languages) j;
