-- Text with filters on Postgres (superhub.md §5.1, §11; migrations/README.md, dialect-specific
-- search indexes): the partial index `hubs_search_filters` over listed, unhidden hubs serves
-- `region = …`, `access = …` and `join_mode in (…)`, so the planner can AND its bitmap with the
-- text index's and reads only the hubs that match both, instead of every hub that holds the
-- text. SQLite's twin is empty: its covering index `hubs_search_text` already carries these
-- columns.
create index hubs_search_filters on hubs (region, access, join_mode)
    where state = 'listed' and hidden_at is null;
