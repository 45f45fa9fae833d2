-- Tag filters (superhub.md §5.1, §11): one row per (tag, hub) of the hub's stored record, written
-- in the same transaction as the hub row, so `tag=` is an index lookup rather than a pattern match
-- over `tags_text`. The same on both dialects except the backfill's JSON function (the
-- backfill copies the tags of hubs stored before this migration; `distinct` keeps it to one row
-- per pair).
create table hub_tags (
    tag text not null,
    hub_id text not null,
    primary key (tag, hub_id)
);
create index hub_tags_hub on hub_tags (hub_id);
insert into hub_tags (tag, hub_id)
    select distinct j.value, h.id from hubs h, json_each(h.tags) j;
