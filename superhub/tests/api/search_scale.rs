//! `GET /api/v1/hubs` (superhub.md §5.1) at a scale where shortcuts would show: a text that many
//! hubs match, ranked in full, and filter values that few or no hubs list.

use libp2p::identity::ed25519::Keypair;
use shared::clock::unix_ms;
use shared::db::DbKind;
use std::collections::HashMap;
use superhub::store::{HubSearch, Provenance, SearchSort};
use testkit::record::{hub_record, sign_record};
use testkit::{TestDb, each_backend};

use crate::search::{BASE, Directory, Hub, sorted};

each_backend!(
    search_ranks_every_match_best_first_across_pages_when_many_match,
    search_finds_languages_and_regions_when_a_record_changes_or_no_hub_lists_them,
);

async fn search_ranks_every_match_best_first_across_pages_when_many_match(db: TestDb) {
    let dir = Directory::start(&db).await;
    let names = [
        "Common hub",
        "Common common hub",
        "A common hub of several words",
    ];
    let mut ids = Vec::new();
    let mut paid = Vec::new();
    for i in 0..225 {
        let access = if i % 3 == 0 { "paid" } else { "free" };
        let id = dir
            .list(&Hub {
                name: names[i % names.len()],
                access,
                ..BASE
            })
            .await;
        if access == "paid" {
            paid.push(id.clone());
        }
        ids.push(id);
    }
    // The best match is listed last, so no order of the text index puts it first by chance.
    let best = dir
        .list(&Hub {
            name: "Common common common",
            slug: "common-common",
            description: "common",
            ..BASE
        })
        .await;
    ids.push(best.clone());
    dir.list(&Hub {
        name: "Unrelated",
        ..BASE
    })
    .await;

    // Every match's rank, as the store computes it (one page holding them all).
    let hits = dir
        .store
        .search_hubs(&relevance_of("common", 1_000))
        .await
        .unwrap();
    let rank: HashMap<String, f64> = hits
        .into_iter()
        .map(|hit| (hit.listing.id, hit.score.expect("every match is ranked")))
        .collect();
    assert_eq!(sorted(rank.keys().cloned().collect()), sorted(ids.clone()));
    // Best first: bm25 is better lower, ts_rank higher; equal ranks by id.
    let in_order = |a: &String, b: &String| {
        let (ra, rb) = (rank[a], rank[b]);
        let better = match dir.store.kind() {
            DbKind::Sqlite => ra < rb,
            DbKind::Postgres => ra > rb,
        };
        better || (ra == rb && a < b)
    };
    for limit in [100, 7] {
        let found = dir.all_pages(&format!("q=common&limit={limit}")).await;
        assert_eq!(sorted(found.clone()), sorted(ids.clone()), "limit {limit}");
        assert_eq!(found[0], best, "limit {limit}");
        assert!(
            found.windows(2).all(|w| in_order(&w[0], &w[1])),
            "every match in rank order, each once (limit {limit})"
        );
    }
    let found = dir.all_pages("q=common&access=paid&limit=30").await;
    assert_eq!(sorted(found.clone()), sorted(paid));
    assert!(found.windows(2).all(|w| in_order(&w[0], &w[1])));
    let (status, body) = dir.get("q=common&sort=members&limit=100").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"].as_array().unwrap().len(), 100);
}

/// The store's relevance search for `word`, `limit` rows from the first.
pub(crate) fn relevance_of(word: &str, limit: u32) -> HubSearch {
    HubSearch {
        tokens: vec![word.to_owned()],
        tags: Vec::new(),
        region: None,
        language: None,
        join_modes: Vec::new(),
        access: None,
        sort: SearchSort::Relevance,
        after: None,
        limit,
    }
}

async fn search_finds_languages_and_regions_when_a_record_changes_or_no_hub_lists_them(db: TestDb) {
    let dir = Directory::start(&db).await;
    dir.list(&Hub {
        name: "Stays",
        languages: &["nl", "en"],
        region: "nl",
        ..BASE
    })
    .await;
    let key = Keypair::generate();
    let now = unix_ms();
    let mut record = hub_record(&key, "https://hub.example.org", now);
    record.name = "Moves".to_owned();
    record.slug = "moves".to_owned();
    record.languages = vec!["en".to_owned(), "pt-BR".to_owned()];
    record.region = "nl".to_owned();
    let here = Provenance::direct("self");
    dir.store
        .put_record(&sign_record(&key, &record), &record, &here, now)
        .await
        .unwrap();
    record.seq += 1;
    record.issued_at += 1;
    record.languages = vec!["de".to_owned()];
    record.region = "de".to_owned();
    dir.store
        .put_record(&sign_record(&key, &record), &record, &here, now + 1)
        .await
        .unwrap();
    dir.set("update hubs set state = 'listed' where id = $1", &record.id)
        .await;

    assert_eq!(dir.names("language=en").await, ["Stays"]);
    assert!(dir.names("language=pt-BR").await.is_empty());
    assert_eq!(dir.names("language=de").await, ["Moves"]);
    assert_eq!(dir.names("region=nl").await, ["Stays"]);
    assert_eq!(dir.names("region=de&language=de").await, ["Moves"]);
    assert!(dir.names("region=is").await.is_empty());
    assert!(dir.names("language=fi&sort=newest").await.is_empty());
    assert!(dir.names("q=moves&region=is").await.is_empty());
}
