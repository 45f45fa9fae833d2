//! What operators deploy stays true to the super hub: every metric family of superhub.md §12 is
//! served from start, the Grafana dashboards query only served metrics, the compose file and the
//! Kubernetes manifests set only keys the config accepts, and the example config lists every key.

use shared::config::Overrides;
use superhub::Config;
use superhub::config::FederationPeer;
use testkit::deploy::{
    dashboard_metric_names, has_series, keys_missing_from_example, sample_names, served_names,
    spec_metric_families, unknown_env_keys,
};
use testkit::{TestDb, TestSuperhub};

/// A super hub with one federation peer (nothing listens there): the per-peer families get their
/// series when the puller starts.
async fn spawn(db: &TestDb) -> TestSuperhub {
    let superhub = TestSuperhub::spawn_with(db, |config| {
        config.federation.peers = vec![FederationPeer {
            url: "http://127.0.0.1:9".to_owned(),
            id: String::new(),
            name: "nowhere".to_owned(),
            trust_moderation: false,
            trust_claims: true,
        }];
    })
    .await;
    superhub.get("/healthz").await;
    superhub
}

async fn scrape(superhub: &TestSuperhub) -> String {
    let addr = superhub.server().metrics_addr().expect("metrics on");
    reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("GET /metrics reaches the super hub")
        .text()
        .await
        .expect("metrics text")
}

#[tokio::test]
async fn fresh_superhub_serves_every_metric_family_of_the_spec() {
    let db = TestDb::sqlite();
    let superhub = spawn(&db).await;

    let scrape = scrape(&superhub).await;

    let samples = sample_names(&scrape);
    let families = spec_metric_families("docs/spec/superhub.md", "## 12. Metrics");
    assert!(families.len() > 15, "{families:?}");
    for family in families {
        assert!(
            has_series(&samples, &family),
            "{family} has no series:\n{scrape}"
        );
    }
    assert!(
        scrape.contains("superhub_hubs{state=\"listed\"} 0"),
        "{scrape}"
    );
}

#[tokio::test]
async fn dashboards_query_only_metrics_a_superhub_serves() {
    let db = TestDb::sqlite();
    let superhub = spawn(&db).await;

    let served = served_names(&scrape(&superhub).await);

    let used = dashboard_metric_names("superhub_");
    assert!(!used.is_empty(), "no dashboard queries a superhub_ metric");
    let unknown: Vec<_> = used
        .iter()
        .filter(|(_, name)| !served.contains(name))
        .collect();
    assert!(unknown.is_empty(), "not served by a super hub: {unknown:?}");
}

#[test]
fn deploy_files_set_only_superhub_keys_the_config_accepts() {
    let unknown = unknown_env_keys(superhub::config::ENV_PREFIX, |sources| {
        Config::load(sources, &Overrides::default()).map(drop)
    });

    assert!(unknown.is_empty(), "{unknown:#?}");
}

#[test]
fn example_config_lists_every_key() {
    let defaults = serde_json::to_value(Config::default()).unwrap();

    let missing = keys_missing_from_example(
        superhub::init::EXAMPLE_CONFIG,
        &defaults,
        &["federation.peers"],
    );

    assert!(
        missing.is_empty(),
        "not in deploy/superhub.example.toml: {missing:?}"
    );
}
