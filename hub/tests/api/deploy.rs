//! What operators deploy stays true to the hub: every metric family of hub.md §15 is served from
//! start, the Grafana dashboards query only served metrics, the compose file and the Kubernetes
//! manifests set only keys the config accepts, and the example config lists every key.

use hub::Config;
use shared::config::Overrides;
use testkit::deploy::{
    dashboard_metric_names, has_series, keys_missing_from_example, sample_names, served_names,
    spec_metric_families, unknown_env_keys,
};
use testkit::{TestDb, TestHub};

/// Families whose labels are open (no value is known before the first event): their series come
/// with their first use, and a family without series is absent from the scrape.
const OPEN_FAMILIES: [&str; 1] = ["hub_relay_revocations_total"];

#[tokio::test]
async fn fresh_hub_serves_every_metric_family_of_the_spec() {
    let db = TestDb::sqlite();
    let hub = TestHub::spawn(&db).await;
    hub.get("/healthz").await;

    let scrape = hub.metrics().await;

    let samples = sample_names(&scrape);
    let families = spec_metric_families("docs/spec/hub.md", "## 15. Metrics");
    assert!(families.len() >= 20, "{families:?}");
    for family in families
        .iter()
        .filter(|f| !OPEN_FAMILIES.contains(&f.as_str()))
    {
        assert!(
            has_series(&samples, family),
            "{family} has no series:\n{scrape}"
        );
    }
    assert!(
        scrape.contains("hub_members{state=\"active\",tier=\"member\"} 0"),
        "{scrape}"
    );
}

#[tokio::test]
async fn dashboards_query_only_metrics_a_hub_serves() {
    let db = TestDb::sqlite();
    let hub = TestHub::spawn(&db).await;
    hub.get("/healthz").await;

    let served = served_names(&hub.metrics().await);

    let used = dashboard_metric_names("hub_");
    assert!(!used.is_empty(), "no dashboard queries a hub_ metric");
    let unknown: Vec<_> = used
        .iter()
        .filter(|(_, name)| !served.contains(name) || OPEN_FAMILIES.contains(&name.as_str()))
        .collect();
    assert!(unknown.is_empty(), "not served by a hub: {unknown:?}");
}

#[test]
fn deploy_files_set_only_hub_keys_the_config_accepts() {
    let unknown = unknown_env_keys(hub::config::ENV_PREFIX, |sources| {
        Config::load(sources, &Overrides::default()).map(drop)
    });

    assert!(unknown.is_empty(), "{unknown:#?}");
}

#[test]
fn example_config_lists_every_key() {
    let defaults = serde_json::to_value(Config::default()).unwrap();

    let missing = keys_missing_from_example(hub::init::EXAMPLE_CONFIG, &defaults, &[]);

    assert!(
        missing.is_empty(),
        "not in deploy/hub.example.toml: {missing:?}"
    );
}
