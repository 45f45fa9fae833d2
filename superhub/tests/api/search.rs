//! `GET /api/v1/hubs` (superhub.md §5.1, §14 check 6) on both backends: filters, text match,
//! paging and cursors, and hostile parameters.

use std::collections::HashSet;

use libp2p::identity::ed25519::Keypair;
use serde_json::Value;
use shared::clock::unix_ms;
use shared::db::DatabaseConfig;
use shared::rate_limit::RateLimit;
use superhub::store::{Provenance, Store};
use testkit::record::{hub_record, sign_record};
use testkit::{TestDb, TestSuperhub, each_backend};

/// A hub to list: its profile and the measured values set after storing it.
#[derive(Clone)]
pub(crate) struct Hub {
    pub(crate) name: &'static str,
    pub(crate) slug: &'static str,
    pub(crate) description: &'static str,
    pub(crate) tags: &'static [&'static str],
    pub(crate) languages: &'static [&'static str],
    pub(crate) region: &'static str,
    pub(crate) join_mode: &'static str,
    pub(crate) access: &'static str,
    pub(crate) members: Option<i64>,
    pub(crate) uptime: Option<f64>,
    pub(crate) listed_at: Option<i64>,
}

pub(crate) const BASE: Hub = Hub {
    name: "Plain hub",
    slug: "plain",
    description: "",
    tags: &[],
    languages: &[],
    region: "",
    join_mode: "open",
    access: "free",
    members: None,
    uptime: None,
    listed_at: Some(1_000),
};

/// A super hub with a generous search bucket, and direct access to its database.
pub(crate) struct Directory {
    superhub: TestSuperhub,
    pub(crate) store: Store,
    pub(crate) pool: sqlx::AnyPool,
    _dir: tempfile::TempDir,
}

impl Directory {
    pub(crate) async fn start(db: &TestDb) -> Self {
        let superhub = TestSuperhub::spawn_with(db, |config| {
            config.rate_limits.search_ip = RateLimit::new(10_000, 0.001);
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&DatabaseConfig::with_url(&db.url), dir.path())
            .await
            .unwrap();
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        Self {
            superhub,
            store,
            pool,
            _dir: dir,
        }
    }

    /// Stores `hub` through the store's write path, then lists it with its measured values
    /// (probing is not what these tests are about). Returns its id.
    pub(crate) async fn list(&self, hub: &Hub) -> String {
        self.list_signed(&Keypair::generate(), hub, unix_ms()).await
    }

    /// [`Self::list`] with the hub's key and the record's time (`seq`): listing the same key
    /// again with a later time replaces its record.
    pub(crate) async fn list_signed(&self, key: &Keypair, hub: &Hub, now: i64) -> String {
        let mut record = hub_record(key, "https://hub.example.org", now);
        record.name = hub.name.to_owned();
        record.slug = hub.slug.to_owned();
        record.description = hub.description.to_owned();
        record.tags = hub.tags.iter().map(|t| (*t).to_owned()).collect();
        record.languages = hub.languages.iter().map(|l| (*l).to_owned()).collect();
        record.region = hub.region.to_owned();
        record.join_mode = hub.join_mode.to_owned();
        record.access = hub.access.to_owned();
        self.store
            .put_record(
                &sign_record(key, &record),
                &record,
                &Provenance::direct("self"),
                now,
            )
            .await
            .unwrap();
        // Nulls stay unbound: the Any driver may cache a statement typed by a null's bind.
        self.set(
            "update hubs set state = 'listed', first_listed_at = null where id = $1",
            &record.id,
        )
        .await;
        if let Some(members) = hub.members {
            self.set_to(
                "update hubs set member_count = $1 where id = $2",
                members,
                &record.id,
            )
            .await;
        }
        if let Some(uptime) = hub.uptime {
            self.set_to(
                "update hubs set uptime_30d = $1 where id = $2",
                uptime,
                &record.id,
            )
            .await;
        }
        if let Some(at) = hub.listed_at {
            self.set_to(
                "update hubs set first_listed_at = $1 where id = $2",
                at,
                &record.id,
            )
            .await;
        }
        record.id
    }

    pub(crate) async fn set(&self, sql: &'static str, id: &str) {
        sqlx::query(sql).bind(id).execute(&self.pool).await.unwrap();
    }

    async fn set_to<T>(&self, sql: &'static str, value: T, id: &str)
    where
        T: for<'q> sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any> + Send,
    {
        sqlx::query(sql)
            .bind(value)
            .bind(id)
            .execute(&self.pool)
            .await
            .unwrap();
    }

    pub(crate) async fn get(&self, query: &str) -> (u16, Value) {
        let response = self.superhub.get(&format!("/api/v1/hubs?{query}")).await;
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// The names found by `query` (one page), in order.
    pub(crate) async fn names(&self, query: &str) -> Vec<String> {
        let (status, body) = self.get(query).await;
        assert_eq!(status, 200, "{query}: {body}");
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["name"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Every id found by following `next` from `query`, in order.
    pub(crate) async fn all_pages(&self, query: &str) -> Vec<String> {
        let mut ids = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..100 {
            let page = match &next {
                Some(cursor) => format!("{query}&cursor={cursor}"),
                None => query.to_owned(),
            };
            let (status, body) = self.get(&page).await;
            assert_eq!(status, 200, "{page}: {body}");
            ids.extend(
                body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["id"].as_str().unwrap().to_owned()),
            );
            match body["next"].as_str() {
                Some(cursor) => next = Some(cursor.to_owned()),
                None => return ids,
            }
        }
        panic!("{query}: more than 100 pages");
    }
}

pub(crate) fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

each_backend!(
    search_applies_each_filter_when_given_one,
    search_matches_the_last_token_as_a_prefix_when_given_text,
    search_matches_a_prefix_however_many_words_carry_it_and_after_the_record_changes,
    search_returns_every_hub_exactly_once_when_paging_in_every_order,
    search_refuses_a_cursor_when_tampered_or_made_for_another_query,
    search_answers_invalid_field_when_a_parameter_is_invalid,
    search_answers_normally_when_q_holds_query_syntax,
);

async fn search_applies_each_filter_when_given_one(db: TestDb) {
    let dir = Directory::start(&db).await;
    let hubs = [
        Hub {
            name: "Go NL",
            tags: &["go", "web-dev"],
            languages: &["nl", "en"],
            region: "nl",
            join_mode: "email",
            members: Some(5),
            ..BASE
        },
        Hub {
            name: "Go DE",
            tags: &["go"],
            languages: &["de"],
            region: "de",
            join_mode: "invite",
            access: "paid",
            members: Some(4),
            ..BASE
        },
        Hub {
            name: "Web",
            tags: &["web"],
            languages: &["en-us"],
            region: "nl",
            members: Some(3),
            ..BASE
        },
        Hub {
            name: "Rust",
            tags: &["rust", "go-lang"],
            join_mode: "application",
            access: "paid",
            members: Some(2),
            ..BASE
        },
    ];
    for hub in &hubs {
        dir.list(hub).await;
    }
    let hidden = dir
        .list(&Hub {
            name: "Hidden",
            tags: &["go"],
            ..BASE
        })
        .await;
    dir.set("update hubs set hidden_at = 1 where id = $1", &hidden)
        .await;
    let pending = dir
        .list(&Hub {
            name: "Pending",
            tags: &["go"],
            ..BASE
        })
        .await;
    dir.set(
        "update hubs set state = 'pending_probe' where id = $1",
        &pending,
    )
    .await;

    let all = dir.names("").await;
    let by_tag = dir.names("tag=go").await;
    let by_tags = dir.names("tag=go&tag=web-dev").await;
    let by_region = dir.names("region=nl").await;
    let by_language = dir.names("language=en").await;
    let by_join_modes = dir.names("join_mode=email&join_mode=application").await;
    let by_access = dir.names("access=paid").await;
    let combined = dir
        .names("tag=go&access=paid&region=de&join_mode=invite&language=de")
        .await;
    let none = dir.names("tag=web-dev&region=de").await;

    assert_eq!(all, ["Go NL", "Go DE", "Web", "Rust"]);
    assert_eq!(by_tag, ["Go NL", "Go DE"]);
    assert_eq!(by_tags, ["Go NL"]);
    assert_eq!(by_region, ["Go NL", "Web"]);
    assert_eq!(by_language, ["Go NL"]);
    assert_eq!(by_join_modes, ["Go NL", "Rust"]);
    assert_eq!(by_access, ["Go DE", "Rust"]);
    assert_eq!(combined, ["Go DE"]);
    assert!(none.is_empty());
    let (_, body) = dir.get("tag=go&limit=1").await;
    assert_eq!(body["featured"], serde_json::json!([]));
    assert_eq!(body["items"][0]["slug_status"], "owner");
    assert_eq!(
        body["items"][0]["tags"],
        serde_json::json!(["go", "web-dev"])
    );
    let metrics = reqwest::get(format!(
        "http://{}/metrics",
        dir.superhub.server().metrics_addr().unwrap()
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(
        metrics.contains("superhub_search_requests_total{sort=\"members\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("superhub_search_duration_seconds_count"));
}

async fn search_matches_the_last_token_as_a_prefix_when_given_text(db: TestDb) {
    let dir = Directory::start(&db).await;
    dir.list(&Hub {
        name: "Gophers of Amsterdam",
        slug: "go-developers",
        members: Some(3),
        ..BASE
    })
    .await;
    dir.list(&Hub {
        name: "Rust meetup",
        description: "Gophers welcome too",
        members: Some(2),
        ..BASE
    })
    .await;
    dir.list(&Hub {
        name: "Café übung",
        description: "Straße 日本語 コミュニティ",
        tags: &["kaffee"],
        members: Some(1),
        ..BASE
    })
    .await;

    let prefix = sorted(dir.names("q=goph").await);
    let ranked = dir.names("q=gophers").await;
    let two = dir.names("q=rust+goph").await;
    let not_first = dir.names("q=goph+rust").await;
    let by_slug = dir.names("q=developers").await;
    let by_tag = dir.names("q=kaffee").await;
    // Hub text with lower-case accents: Postgres lower-cases non-ASCII letters only under a
    // non-C LC_CTYPE, and keeps diacritics where SQLite removes them (§5.1).
    let unicode = dir.names("q=CAF%C3%89-%C3%BCbung").await;
    let cjk = dir.names("q=%E6%97%A5%E6%9C%AC%E8%AA%9E").await;
    let no_tokens = dir.names("q=--%20!!").await;

    assert_eq!(prefix, ["Gophers of Amsterdam", "Rust meetup"]);
    assert_eq!(
        ranked,
        ["Gophers of Amsterdam", "Rust meetup"],
        "a name outranks a description"
    );
    assert_eq!(two, ["Rust meetup"]);
    assert!(not_first.is_empty());
    assert_eq!(by_slug, ["Gophers of Amsterdam"]);
    assert_eq!(by_tag, ["Café übung"]);
    assert_eq!(unicode, ["Café übung"]);
    assert_eq!(cjk, ["Café übung"]);
    assert_eq!(no_tokens.len(), 3, "no tokens, no text filter");
}

/// On Postgres a prefix carried by few words is searched as those exact words (`search_words`,
/// superhub.md §5.1), and one carried by many as `token:*`: both find the same hubs, and a word a
/// hub gains when its record changes is found at once.
async fn search_matches_a_prefix_however_many_words_carry_it_and_after_the_record_changes(
    db: TestDb,
) {
    let dir = Directory::start(&db).await;
    // 70 words that start with `zeta`: more than a prefix is expanded to.
    let many: Vec<String> = (0..70u8)
        .map(|i| {
            format!(
                "zeta{}{}",
                char::from(b'a' + i / 26),
                char::from(b'a' + i % 26)
            )
        })
        .collect();
    dir.list(&Hub {
        name: "Greek letters",
        description: many.join(" ").leak(),
        ..BASE
    })
    .await;
    // A word with the prefix `quok` before the quiet hub gains another: a vocabulary the record
    // change left out would expand `quok` to `quokka` alone.
    dir.list(&Hub {
        name: "Zoo",
        description: "one quokka",
        ..BASE
    })
    .await;
    let key = Keypair::generate();
    let quiet = Hub {
        name: "Quiet place",
        ..BASE
    };
    dir.list_signed(&key, &quiet, 1_000_000).await;
    let before = dir.names("q=quok").await;

    dir.list_signed(
        &key,
        &Hub {
            description: "Home of quokkas",
            ..quiet
        },
        2_000_000,
    )
    .await;

    assert_eq!(before, ["Zoo"]);
    assert_eq!(sorted(dir.names("q=quok").await), ["Quiet place", "Zoo"]);
    assert_eq!(dir.names("q=zeta").await, ["Greek letters"]);
    assert_eq!(dir.names("q=zetac").await, ["Greek letters"]);
    assert_eq!(dir.names("q=greek+zetab").await, ["Greek letters"]);
    assert_eq!(dir.names("q=quiet+quokka").await, ["Quiet place"]);
    assert_eq!(dir.names("q=place+quokkas").await, ["Quiet place"]);
    assert!(dir.names("q=quiet+zeta").await.is_empty());
}

async fn search_returns_every_hub_exactly_once_when_paging_in_every_order(db: TestDb) {
    let dir = Directory::start(&db).await;
    let descriptions = [
        "community",
        "community of people",
        "a community for all of us here",
    ];
    let members = [Some(10), Some(10), None, Some(3), None];
    let uptimes = [Some(0.5), None, Some(0.99), Some(0.5), None, Some(0.25)];
    let listed = [Some(5), Some(5), Some(7), None];
    let mut ids = HashSet::new();
    for i in 0..15 {
        let hub = Hub {
            description: descriptions[i % 3],
            members: members[i % 5],
            uptime: uptimes[i % 6],
            listed_at: listed[i % 4],
            ..BASE
        };
        ids.insert(dir.list(&hub).await);
    }

    for sort in ["relevance", "members", "uptime", "newest"] {
        for limit in [2, 3] {
            let query = format!("q=commun&sort={sort}&limit={limit}");
            let found = dir.all_pages(&query).await;

            let unique: HashSet<String> = found.iter().cloned().collect();
            assert_eq!(found.len(), 15, "{query}");
            assert_eq!(unique, ids, "{query}");
            assert_eq!(
                found,
                dir.all_pages(&format!("q=commun&sort={sort}&limit=100"))
                    .await
            );
        }
    }
}

async fn search_refuses_a_cursor_when_tampered_or_made_for_another_query(db: TestDb) {
    let dir = Directory::start(&db).await;
    for _ in 0..3 {
        dir.list(&Hub {
            description: "go",
            ..BASE
        })
        .await;
    }
    let (_, first) = dir.get("q=go&limit=1").await;
    let cursor = first["next"].as_str().unwrap().to_owned();
    let mut tampered = cursor.clone();
    tampered.replace_range(..4, "AAAA");

    let cases = [
        format!("q=go&limit=1&cursor={tampered}"),
        format!("q=go&limit=1&cursor={}", &cursor[..cursor.len() - 3]),
        "q=go&cursor=%FF%FE".to_owned(),
        format!("q=rust&limit=1&cursor={cursor}"),
        format!("q=go&tag=go&limit=1&cursor={cursor}"),
        format!("q=go&sort=members&limit=1&cursor={cursor}"),
        format!("q=go&cursor={}", "A".repeat(2000)),
    ];

    for query in cases {
        let (status, body) = dir.get(&query).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("bad_cursor")),
            "{query}"
        );
    }
    let (status, _) = dir.get(&format!("q=go&limit=5&cursor={cursor}")).await;
    assert_eq!(status, 200, "the limit may change between pages");
}

async fn search_answers_invalid_field_when_a_parameter_is_invalid(db: TestDb) {
    let dir = Directory::start(&db).await;
    let cases = [
        (format!("q={}", "a".repeat(201)), "q"),
        ("tag=go&".repeat(1000), "tag"),
        ("tag=Go".to_owned(), "tag"),
        ("tag=%FF".to_owned(), "tag"),
        ("region=NL".to_owned(), "region"),
        ("language=%22en%22".to_owned(), "language"),
        ("join_mode=closed".to_owned(), "join_mode"),
        ("access=cheap".to_owned(), "access"),
        ("sort=random".to_owned(), "sort"),
        ("limit=0".to_owned(), "limit"),
        ("limit=101".to_owned(), "limit"),
        ("limit=ten".to_owned(), "limit"),
        ("x=1&".repeat(60), "query"),
    ];

    for (query, field) in cases {
        let (status, body) = dir.get(&query).await;

        assert_eq!(status, 400, "{query}");
        assert_eq!(body["error"]["code"], "invalid_field", "{query}");
        assert_eq!(body["error"]["field"], field, "{query}");
    }
}

async fn search_answers_normally_when_q_holds_query_syntax(db: TestDb) {
    let dir = Directory::start(&db).await;
    dir.list(&Hub {
        name: "Near hub",
        description: "or and not",
        ..BASE
    })
    .await;
    dir.list(&Hub {
        name: "Other",
        ..BASE
    })
    .await;
    let hostile = [
        "%22",
        "*",
        "NEAR",
        "NEAR(near%20hub)",
        "near:*",
        "near%20%26%20other",
        "near%20|%20other",
        "!near",
        "(near",
        "near)",
        "%22near%22*",
        "name:near",
        "'near'",
        "near%20OR%20other",
        "near%20-other",
        "^near",
        "%FF%FE",
        "%00near",
        "a+b+c+d+e+f+g+h+near",
    ];

    for q in hostile {
        let (status, body) = dir.get(&format!("q={q}")).await;

        assert_eq!(status, 200, "{q}: {body}");
    }
    assert_eq!(dir.names("q=NEAR(near%20hub)").await, ["Near hub"]);
    assert_eq!(dir.names("q=near%20OR%20other").await, Vec::<String>::new());
    assert_eq!(dir.names("q=or+and+not").await, ["Near hub"]);
    assert_eq!(
        dir.names("q=a+b+c+d+e+f+g+h+near").await,
        Vec::<String>::new()
    );
    assert_eq!(
        dir.names("q=near+hub+near+hub+near+hub+near+hub+zzz").await,
        ["Near hub"],
        "a ninth token is ignored"
    );
}
