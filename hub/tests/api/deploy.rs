//! What operators deploy stays true to the hub: every metric family of hub.md §15 is served from
//! start, the Grafana dashboards query only served metrics, the compose file and the Kubernetes
//! manifests set only keys the config accepts, and the example config lists every key.

use hub::Config;
use shared::config::{Overrides, Sources};
use testkit::deploy::{
    dashboard_metric_names, deploy_env_vars, example_keys, has_series, sample_names, served_names,
    spec_metric_families,
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
    let vars = deploy_env_vars(hub::config::ENV_PREFIX);
    assert!(
        vars.iter().any(|(file, ..)| file.starts_with("deploy/k8s")),
        "{vars:?}"
    );

    for (file, name, value) in vars {
        let sources = Sources {
            file: None,
            env: vec![(name.clone(), value.clone())],
        };
        if let Err(error) = Config::load(&sources, &Overrides::default()) {
            let text = error.to_string();
            assert!(
                !text.contains("unknown field") && !text.contains("empty key segment"),
                "{file}: {name}={value}: {text}"
            );
        }
    }
}

#[test]
fn example_config_lists_every_key() {
    let example = example_keys(hub::init::EXAMPLE_CONFIG);
    let defaults = serde_json::to_value(Config::default()).unwrap();

    let mut missing = Vec::new();
    for (section, table) in defaults.as_object().unwrap() {
        let Some(table) = table.as_object() else {
            continue; // [[plans]]: an array of tables, shown as an example block.
        };
        for key in table.keys() {
            let dotted = format!("{section}.{key}");
            if !example.contains(&dotted) {
                missing.push(dotted);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not in deploy/hub.example.toml: {missing:?}"
    );
}
