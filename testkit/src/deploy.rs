//! Readers of the repository's deployment files for the tests that keep them honest: the metric
//! tables of the specs, the metric names a Prometheus scrape serves, the metric names the Grafana
//! dashboards query, and the server variables set in the compose file and the Kubernetes
//! manifests.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use shared::config::{LoadConfigError, Sources};

/// The repository root (the parent of `testkit/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit lives in the workspace")
        .to_path_buf()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The metric names in the first column of the table under the heading `heading` (e.g.
/// `## 15. Metrics`) of `spec` (relative to the root); rows whose meaning says "not served yet"
/// are left out. A cell may name several (`` `a` / `b` ``).
pub fn spec_metric_families(spec: &str, heading: &str) -> Vec<String> {
    let text = read(&repo_root().join(spec));
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("{spec}: no heading {heading:?}"));
    let section = &text[start + heading.len()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut names = Vec::new();
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        if row.contains("not served yet") {
            continue;
        }
        let first = row.split('|').nth(1).unwrap_or("");
        names.extend(first.split('`').skip(1).step_by(2).map(str::to_owned));
    }
    assert!(
        !names.is_empty(),
        "{spec}: no metric table under {heading:?}"
    );
    names
}

/// The sample names of a Prometheus text scrape (`name{…} value` and `name value` lines).
pub fn sample_names(scrape: &str) -> BTreeSet<String> {
    scrape
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

/// The sum of every sample of family `name` in a Prometheus text scrape (0 when it has none):
/// with every family present from start, "nothing counted" is a zero sum, not a missing line.
pub fn sample_sum(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.split(['{', ' ']).next() == Some(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Every name a scrape can answer a query for: its sample names, and for each declared family
/// (`# TYPE`) the family name with the suffixes of its type, series or not.
pub fn served_names(scrape: &str) -> BTreeSet<String> {
    let mut names = sample_names(scrape);
    for line in scrape.lines() {
        let mut words = line.split_whitespace();
        if let (Some("#"), Some("TYPE"), Some(name), Some(kind)) =
            (words.next(), words.next(), words.next(), words.next())
        {
            let suffixes: &[&str] = match kind {
                "counter" => &["_total"],
                "histogram" => &["_bucket", "_sum", "_count"],
                _ => &[""],
            };
            names.extend(suffixes.iter().map(|s| format!("{name}{s}")));
        }
    }
    names
}

/// Whether the family `name` of the spec has a series in `samples` (a histogram by its
/// `_bucket`/`_sum`/`_count`).
pub fn has_series(samples: &BTreeSet<String>, name: &str) -> bool {
    ["", "_bucket", "_count", "_sum"]
        .iter()
        .any(|suffix| samples.contains(&format!("{name}{suffix}")))
}

/// The metric names starting with `prefix` (e.g. `hub_`) that the dashboards in
/// `deploy/grafana/dashboards/` and the alerts in `deploy/prometheus-alerts.yml` query, with the
/// file of each.
pub fn dashboard_metric_names(prefix: &str) -> Vec<(String, String)> {
    let dir = repo_root().join("deploy/grafana/dashboards");
    let mut paths = vec![repo_root().join("deploy/prometheus-alerts.yml")];
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dashboard directory entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            paths.push(path);
        }
    }
    let mut found = Vec::new();
    for path in paths {
        let text = read(&path);
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with(prefix) && word.len() > prefix.len() {
                found.push((file.clone(), word.to_owned()));
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// `(file, name, value)` of every `<prefix><SECTION>__<KEY>` variable set in `docker-compose.yml`
/// and `deploy/k8s/*.yaml`, as `NAME: value` or `- name: NAME` with `value: …` on the next line
/// (`""` when its value comes from elsewhere).
pub fn deploy_env_vars(prefix: &str) -> Vec<(String, String, String)> {
    let root = repo_root();
    let mut files = vec![root.join("docker-compose.yml")];
    let k8s = root.join("deploy/k8s");
    for entry in std::fs::read_dir(&k8s).unwrap_or_else(|e| panic!("{}: {e}", k8s.display())) {
        files.push(entry.expect("k8s directory entry").path());
    }
    let mut vars = Vec::new();
    for path in files {
        let text = read(&path);
        let file = path.strip_prefix(&root).unwrap().display().to_string();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start().trim_start_matches("- ");
            let (name, value) = if let Some(rest) = trimmed.strip_prefix("name: ") {
                let next = lines.get(i + 1).map_or("", |l| l.trim());
                (rest.trim(), next.strip_prefix("value: ").unwrap_or(""))
            } else if let Some((name, value)) = trimmed.split_once(':') {
                (name.trim(), value.trim())
            } else {
                continue;
            };
            let name = name.trim_matches('"');
            let is_config = name
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.contains("__"));
            if is_config {
                let value = value.trim_matches('"').trim_matches('\'').to_owned();
                vars.push((file.clone(), name.to_owned(), value));
            }
        }
    }
    vars
}

/// The dotted keys (`section.key`) an example config lists, commented (`# key =`) or set.
pub fn example_keys(example: &str) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let mut section = String::new();
    for line in example.lines() {
        let line = line.trim_start_matches('#').trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim_matches(['[', ']']).to_owned();
        } else if let Some((key, _)) = line.split_once(" = ")
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            keys.insert(format!("{section}.{key}"));
        }
    }
    keys
}

/// The `<prefix><SECTION>__<KEY>` variables of the deploy files (see [`deploy_env_vars`]) that
/// `load` refuses as naming no key, each as `file: NAME=value: error`. Other refusals (a secret
/// file absent here, a value too short) do not count: the name is a key.
pub fn unknown_env_keys(
    prefix: &str,
    load: impl Fn(&Sources) -> Result<(), LoadConfigError>,
) -> Vec<String> {
    let vars = deploy_env_vars(prefix);
    assert!(
        vars.iter().any(|(file, ..)| file.starts_with("deploy/k8s")),
        "no {prefix}* variable in deploy/k8s: {vars:?}"
    );
    vars.into_iter()
        .filter_map(|(file, name, value)| {
            let sources = Sources {
                file: None,
                env: vec![(name.clone(), value.clone())],
            };
            let text = load(&sources).err()?.to_string();
            (text.contains("unknown field") || text.contains("empty key segment"))
                .then(|| format!("{file}: {name}={value}: {text}"))
        })
        .collect()
}

/// The `section.key`s of `defaults` (a serialized config) that `example` does not list, leaving
/// out array-of-tables sections and the keys in `skip` (shown as example blocks).
pub fn keys_missing_from_example(
    example: &str,
    defaults: &serde_json::Value,
    skip: &[&str],
) -> Vec<String> {
    let listed = example_keys(example);
    let sections = defaults
        .as_object()
        .expect("a config serializes to a table");
    sections
        .iter()
        .filter_map(|(section, table)| Some((section, table.as_object()?)))
        .flat_map(|(section, table)| table.keys().map(move |key| format!("{section}.{key}")))
        .filter(|dotted| !listed.contains(dotted) && !skip.contains(&dotted.as_str()))
        .collect()
}
