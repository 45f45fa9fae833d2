-- Covering order indexes on Postgres (superhub.md §5.1, §11; migrations/README.md, dialect-specific
-- search indexes). A text search in another order than relevance, or with a common text, walks an
-- order's index and tests each hub for the text and the filters; reading each hub row for that
-- test cost a random heap read per hub (a word in 2 % of hubs: ~1,000 per page). The order indexes
-- therefore carry the `search` vector and the filter columns, so the walk reads only the index
-- (an index-only scan on all-visible pages). This is the Postgres twin of SQLite's covering
-- `hubs_search_text`; the SQLite file holds only a comment.
drop index hubs_search_members;
drop index hubs_search_uptime;
drop index hubs_search_newest;
create index hubs_search_members on hubs (member_count desc nulls last, id)
    include (search, region, access, join_mode)
    where state = 'listed' and hidden_at is null;
create index hubs_search_uptime on hubs (uptime_30d desc nulls last, id)
    include (search, region, access, join_mode)
    where state = 'listed' and hidden_at is null;
create index hubs_search_newest on hubs (first_listed_at desc nulls last, id)
    include (search, region, access, join_mode)
    where state = 'listed' and hidden_at is null;
