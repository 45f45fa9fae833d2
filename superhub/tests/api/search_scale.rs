//! `GET /api/v1/hubs` (superhub.md §5.1) where the search's cost bounds show: a text that matches
//! more hubs than are ranked, and filter values that few or no hubs list.

use libp2p::identity::ed25519::Keypair;
use shared::clock::unix_ms;
use superhub::store::{Provenance, RANKED_MATCHES};
use testkit::record::{hub_record, sign_record};
use testkit::{TestDb, each_backend};

use crate::search::{BASE, Directory, Hub, sorted};

each_backend!(
    search_ranks_the_first_matches_and_pages_the_rest_by_id_when_many_match,
    search_finds_languages_and_regions_when_a_record_changes_or_no_hub_lists_them,
);

async fn search_ranks_the_first_matches_and_pages_the_rest_by_id_when_many_match(db: TestDb) {
    let dir = Directory::start(&db).await;
    let names = [
        "Common hub",
        "Common common hub",
        "A common hub of several words",
    ];
    let ranked = usize::try_from(RANKED_MATCHES).unwrap();
    let mut ids = Vec::new();
    let mut paid = Vec::new();
    for i in 0..ranked + 25 {
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
    dir.list(&Hub {
        name: "Unrelated",
        ..BASE
    })
    .await;

    // Page sizes whose pages end on and straddle the last ranked match.
    for limit in [100, 7] {
        let found = dir.all_pages(&format!("q=common&limit={limit}")).await;
        assert_eq!(sorted(found.clone()), sorted(ids.clone()), "limit {limit}");
        let rest = &found[ranked..];
        assert!(
            rest.windows(2).all(|w| w[0] < w[1]),
            "the matches after the ranked ones follow by id (limit {limit})"
        );
    }
    let found = dir.all_pages("q=common&access=paid&limit=30").await;
    assert_eq!(sorted(found), sorted(paid));
    let (status, body) = dir.get("q=common&sort=members&limit=100").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"].as_array().unwrap().len(), 100);
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
