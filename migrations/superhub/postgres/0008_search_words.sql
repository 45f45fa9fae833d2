-- Prefix expansion for text search on Postgres (superhub.md §5.1, §11; migrations/README.md,
-- dialect-specific search indexes). The last token of a query matches as a prefix; a GIN index
-- serves `word:*` by reading the whole posting list of every word with that prefix, where an
-- exact word lets the index skip to the hubs the other tokens matched. `search_words` holds every
-- lexeme of every hub's `search` vector (a superset: words are never deleted, a stale one matches
-- no hub), so the store can replace `word:*` with the exact words carrying the prefix when they
-- are few. A trigger keeps it, so every path that writes a hub row keeps it; words are inserted
-- in order so concurrent writers cannot deadlock on the primary key. `collate "C"` makes a
-- `like 'prefix%'` a range scan of the primary key. SQLite's twin is empty: FTS5 serves prefixes
-- from its own index.
create table search_words (
    word text collate "C" primary key
);
create function hubs_search_words() returns trigger language plpgsql as $$
begin
    insert into search_words (word)
        select w from unnest(tsvector_to_array(new.search)) as w order by w
        on conflict do nothing;
    return null;
end
$$;
create trigger hubs_search_words_insert after insert on hubs
    for each row execute function hubs_search_words();
create trigger hubs_search_words_update after update on hubs
    for each row when (old.search is distinct from new.search) execute function hubs_search_words();
insert into search_words (word)
    select distinct w from hubs, unnest(tsvector_to_array(hubs.search)) as w
    on conflict do nothing;
