//! `GET /api/v1/hubs` (superhub.md §5.1): relevance's name tier comes first and paging crosses into
//! the other matches exactly once; a text many hubs match walks an order's index.

use libp2p::identity::ed25519::Keypair;
use shared::clock::unix_ms;
use shared::db::DbKind;
use superhub::directory::search::cursor;
use superhub::store::{Provenance, SortKey};
use testkit::record::{hub_record, sign_record};
use testkit::{TestDb, each_backend};

use crate::search::{BASE, Directory, Hub, sorted};
use crate::search_scale::relevance_of;

each_backend!(
    search_ranks_the_name_tier_first_and_pages_across_tiers_exactly_once_when_text_matches_both,
    search_resumes_among_the_other_matches_when_a_cursor_lies_beyond_the_name_tier,
    search_returns_every_match_once_in_order_when_many_hubs_match_another_order,
);

/// Lists the garden hubs; returns the tiers of "garden" and of "club garden" (first to last), as
/// sorted names.
async fn gardens(dir: &Directory) -> [Vec<Vec<&'static str>>; 2] {
    let hubs = [
        ("Garden club", "garden-club", "", &[][..]),
        ("Garden garden", "plots", "", &[]),
        ("Friends", "garden-friends", "", &[]),
        ("Gardening ideas", "ideas", "club", &[]),
        ("Garden", "club-garden", "", &[]),
        (
            "Allotments",
            "allotments",
            "garden garden garden garden garden",
            &[],
        ),
        ("Club house", "club-house", "a garden", &[]),
        ("Seeds", "seeds", "", &["garden"]),
        ("Compost", "compost", "for every garden and club", &[]),
        ("Trees", "trees", "a gardener's club", &[]),
        ("Unrelated", "unrelated", "club", &[]),
    ];
    for (name, slug, description, tags) in hubs {
        dir.list(&Hub {
            name,
            slug,
            description,
            tags,
            ..BASE
        })
        .await;
    }
    [
        vec![
            vec![
                "Friends",
                "Garden",
                "Garden club",
                "Garden garden",
                "Gardening ideas",
            ],
            vec!["Allotments", "Club house", "Compost", "Seeds", "Trees"],
        ],
        vec![
            vec!["Garden", "Garden club"],
            vec!["Club house", "Gardening ideas"],
            vec!["Compost", "Trees"],
        ],
    ]
}

async fn search_ranks_the_name_tier_first_and_pages_across_tiers_exactly_once_when_text_matches_both(
    db: TestDb,
) {
    let dir = Directory::start(&db).await;
    let [garden, club_garden] = gardens(&dir).await;

    for (query, tiers) in [("q=garden", &garden), ("q=club+garden", &club_garden)] {
        let all = dir.names(&format!("{query}&limit=100")).await;
        let mut start = 0;
        for tier in tiers {
            let end = (start + tier.len()).min(all.len());
            assert_eq!(sorted(all[start..end].to_vec()), *tier, "{query}: {all:?}");
            start = end;
        }
        assert_eq!(all.len(), start, "{query}: {all:?}");
        let ids = dir.all_pages(&format!("{query}&limit=100")).await;
        // Every limit up to past the first tier's size crosses the tiers with each match once.
        for limit in 1..=tiers[0].len() + 2 {
            let paged = dir.all_pages(&format!("{query}&limit={limit}")).await;
            assert_eq!(paged, ids, "{query} limit {limit}");
        }
    }
    // The name tier holds every token in the name or slug: "Garden" (slug club-garden) is in it.
    assert_eq!(dir.names("q=garden+club&limit=2").await.len(), 2);
    let (_, body) = dir.get("q=garden&access=paid").await;
    assert_eq!(body["items"].as_array().map(Vec::len), Some(0));
}

async fn search_resumes_among_the_other_matches_when_a_cursor_lies_beyond_the_name_tier(
    db: TestDb,
) {
    let dir = Directory::start(&db).await;
    let [garden, _] = gardens(&dir).await;
    let (names, others) = (&garden[0], &garden[1]);
    let search = relevance_of("garden", 20);
    // A hand-made position between the tiers (every name-tier rank lies beyond it, every other
    // rank before it) and one beyond every rank: positions, not errors.
    let (between, beyond) = match dir.store.kind() {
        DbKind::Sqlite => (-500_000.0, 1.0e9),
        DbKind::Postgres => (500_000.0, -1.0e9),
    };
    let all = dir.names("q=garden&limit=100").await;
    let after_between = dir
        .names(&format!(
            "q=garden&limit=100&cursor={}",
            cursor::encode(&search, SortKey::Float(between), "0")
        ))
        .await;
    let after_beyond = dir
        .names(&format!(
            "q=garden&cursor={}",
            cursor::encode(&search, SortKey::Float(beyond), "0")
        ))
        .await;

    assert_eq!(
        after_between,
        all[names.len()..],
        "the other matches, in order"
    );
    assert_eq!(sorted(after_between), *others);
    assert!(after_beyond.is_empty());
}

async fn search_returns_every_match_once_in_order_when_many_hubs_match_another_order(db: TestDb) {
    let dir = Directory::start(&db).await;
    let here = Provenance::direct("self");
    let now = unix_ms();
    // More hubs match than the store's rarity threshold (2,000): SQLite tests the text per hub
    // while walking the order's index, and three common tags are read as their intersection.
    let mut expected = Vec::new();
    let mut tagged = Vec::new();
    for i in 0..2_100_u64 {
        let key = Keypair::generate();
        let mut record = hub_record(&key, "https://hub.example.org", now);
        record.name = if i % 50 == 0 { "Other" } else { "Common hub" }.to_owned();
        record.description = if i % 50 == 0 { "" } else { "common words" }.to_owned();
        record.slug = format!("hub-{i}");
        record.access = "free".to_owned();
        record.member_count = (i % 5 != 0).then_some(i % 37);
        record.tags = ["alpha", "beta", "gamma"]
            .into_iter()
            .filter(|t| match *t {
                "beta" => i % 50 != 0,
                "gamma" => i % 100 != 1,
                _ => true,
            })
            .map(str::to_owned)
            .collect();
        dir.store
            .put_record(&sign_record(&key, &record), &record, &here, now)
            .await
            .unwrap();
        if i % 50 != 0 {
            if i % 100 != 1 {
                tagged.push((record.member_count, record.id.clone()));
            }
            expected.push((record.member_count, record.id));
        }
    }
    sqlx::query("update hubs set state = 'listed'")
        .execute(&dir.pool)
        .await
        .unwrap();
    let expected = by_members(expected);
    let tagged = by_members(tagged);
    assert!(expected.len() > 2_000);
    assert!(tagged.len() < expected.len());

    let found = dir.all_pages("q=common&sort=members&limit=100").await;
    let filtered = dir
        .all_pages("q=comm&sort=members&limit=100&access=free")
        .await;

    let all_tags = dir
        .all_pages("tag=gamma&tag=alpha&tag=beta&sort=members&limit=100")
        .await;

    assert_eq!(found, expected);
    assert_eq!(filtered, expected, "every hub is free");
    assert_eq!(all_tags, tagged);
}

/// The ids of `hubs` ordered by members descending, nulls last, ties by id.
fn by_members(mut hubs: Vec<(Option<u64>, String)>) -> Vec<String> {
    hubs.sort_by(|(ma, ia), (mb, ib)| match (ma, mb) {
        (Some(a), Some(b)) => b.cmp(a).then(ia.cmp(ib)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => ia.cmp(ib),
    });
    hubs.into_iter().map(|(_, id)| id).collect()
}
