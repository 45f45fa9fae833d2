-- Prefix indexes for text search on SQLite (superhub.md §5.1, §11; migrations/README.md,
-- dialect-specific search indexes). The last token of a query matches as a prefix. Without a
-- prefix index FTS5 serves `"tok"*` by merging the doclists of every term that starts with `tok`
-- into one list, for each query and for each rank over it: a two-word query whose last word starts
-- words in tens of thousands of descriptions spent most of its time there (3.6 → 0.5 ms for its
-- match at 100,000 hubs). `prefix` keeps one doclist per prefix of 3 to 8 characters as well; the
-- index grows about 5.5 times (38 → 211 MB at 100,000 hubs). A shorter or longer prefix still
-- merges, as before. FTS5 cannot add the option to a table, so `hubs_fts` is rebuilt with the same
-- rowids (`hubs.search_rowid` and `hubs_fts_names` keep pointing at them).
create virtual table hubs_fts_prefixed using fts5 (
    id unindexed,
    name,
    slug,
    tags,
    description,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '3 4 5 6 7 8'
);
insert into hubs_fts_prefixed (rowid, id, name, slug, tags, description)
    select rowid, id, name, slug, tags, description from hubs_fts;
drop table hubs_fts;
alter table hubs_fts_prefixed rename to hubs_fts;
