//! Dashboards: valid Grafana JSON that queries only metrics of the contract or series the SLO
//! rules record, and the committed `dashboards/*.json` are fresh.

mod support;

use std::collections::BTreeSet;

use regex::Regex;
use serde_json::Value;
use support::*;
use tidewatch_contract::metrics::CONTRACT;
use tidewatch_operator::dashboards::{
    MlServiceDashboard, SloDashboard, mlservice_dashboard, slo_dashboard,
};
use tidewatch_operator::slo_rules::rule_group;

fn exprs(d: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for panel in d["panels"].as_array().unwrap() {
        for t in panel["targets"].as_array().into_iter().flatten() {
            out.push(t["expr"].as_str().unwrap().to_owned());
        }
    }
    out
}

fn known_series() -> BTreeSet<String> {
    let mut known: BTreeSet<String> = CONTRACT.iter().flat_map(|m| m.series()).collect();
    for r in rule_group(&availability_slo("")).rules {
        if let Some(record) = r.record {
            known.insert(record);
        }
    }
    known.insert("ALERTS".into());
    known
}

#[test]
fn dashboards_query_only_known_series() {
    let known = known_series();
    let name = Regex::new(r"\b(tidewatch_[a-z_:0-9]+|ALERTS)\b").unwrap();
    for d in [
        mlservice_dashboard(&MlServiceDashboard::generic()),
        slo_dashboard(&SloDashboard::generic()),
    ] {
        let all = exprs(&d);
        assert!(all.len() > 10, "{} has too few queries", d["title"]);
        for e in all {
            for m in name.find_iter(&e) {
                assert!(
                    known.contains(m.as_str()),
                    "{}: unknown series {} in {e}",
                    d["title"],
                    m.as_str()
                );
            }
        }
    }
}

#[test]
fn panels_have_unique_ids_and_fit_the_grid() {
    for d in [
        mlservice_dashboard(&MlServiceDashboard::generic()),
        slo_dashboard(&SloDashboard::generic()),
    ] {
        let mut ids = BTreeSet::new();
        for p in d["panels"].as_array().unwrap() {
            assert!(
                ids.insert(p["id"].as_u64().unwrap()),
                "duplicate panel id in {}",
                d["title"]
            );
            let g = &p["gridPos"];
            assert!(g["x"].as_u64().unwrap() + g["w"].as_u64().unwrap() <= 24);
        }
        assert!(d["uid"].as_str().unwrap().len() <= 40);
    }
}

#[test]
fn instance_dashboards_preselect_their_object_and_keep_uids_short() {
    let long = "n".repeat(49);
    let d = slo_dashboard(&SloDashboard::of(&availability_slo("")));
    assert_eq!(
        d["templating"]["list"][2]["current"]["value"],
        "fraud-availability"
    );
    assert_eq!(d["templating"]["list"][3]["current"]["value"], "99.9");
    let m = MlServiceDashboard {
        namespace: Some(long.clone()),
        service: Some(long),
        drift_thresholds: (0.1, 0.2),
    };
    assert!(mlservice_dashboard(&m)["uid"].as_str().unwrap().len() <= 40);
}

#[test]
fn committed_dashboards_are_fresh() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../dashboards");
    for (file, d) in [
        (
            "mlservice.json",
            mlservice_dashboard(&MlServiceDashboard::generic()),
        ),
        ("slo.json", slo_dashboard(&SloDashboard::generic())),
    ] {
        let committed = std::fs::read_to_string(dir.join(file)).expect("dashboards/ is generated");
        assert_eq!(
            committed,
            serde_json::to_string_pretty(&d).unwrap() + "\n",
            "{file} is stale: run make generate"
        );
    }
}
