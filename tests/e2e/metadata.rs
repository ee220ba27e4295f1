//! A timer's metadata end to end, through the real gateway on a real nats-server: set on
//! PUT, POST and batch, shown back, merged by PATCH, matched by listings (alone, together,
//! with a status, page by page), and bad keys or values refused with nothing stored.

use ontime_testkit::{NatsServer, Ontime, Sink};
use serde_json::{Value, json};

const NS: &str = "/namespaces/md";

/// A timer due in an hour (nothing fires during the test), with `metadata`.
fn timer(sink: &Sink, metadata: Value) -> Value {
    json!({"schedule": {"after": "1h"}, "target": {"http": {"url": sink.url("/md")}},
           "metadata": metadata})
}

/// The ids of every page of `GET …/timers?<query>&limit=<limit>`, following the cursors.
async fn pages(o: &Ontime, query: &str, limit: usize) -> Vec<Vec<String>> {
    let mut cursor: Option<String> = None;
    let mut out = Vec::new();
    loop {
        let mut path = format!("{NS}/timers?{query}&limit={limit}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = o.send("GET", &path, None).await;
        assert_eq!(status, 200, "{path}: {page}");
        out.push(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_owned())
                .collect(),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_is_stored_shown_patched_and_filtered() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;

    // Created with PUT: shown back on the answer and on a read.
    let (status, created) = o
        .send(
            "PUT",
            &format!("{NS}/timers/labelled"),
            Some(timer(&sink, json!({"app": "crony", "team": "a"}))),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["metadata"], json!({"app": "crony", "team": "a"}));
    let (_, read) = o.send("GET", &format!("{NS}/timers/labelled"), None).await;
    assert_eq!(read["metadata"], json!({"app": "crony", "team": "a"}));

    // A timer without metadata shows an empty map.
    let (status, bare) = o
        .send(
            "PUT",
            &format!("{NS}/timers/bare"),
            Some(
                json!({"schedule": {"after": "1h"}, "target": {"http": {"url": sink.url("/md")}}}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{bare}");
    assert_eq!(bare["metadata"], json!({}));

    // PATCH merges: a key added, one changed, one removed; the schedule keeps its place.
    let (status, patched) = o
        .send(
            "PATCH",
            &format!("{NS}/timers/labelled"),
            Some(json!({"metadata": {"owner": "ops", "app": "crony2", "team": null}})),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(
        patched["metadata"],
        json!({"app": "crony2", "owner": "ops"})
    );
    assert_eq!(patched["next_fire_at"], created["next_fire_at"]);
    let (_, read) = o.send("GET", &format!("{NS}/timers/labelled"), None).await;
    assert_eq!(read["metadata"], json!({"app": "crony2", "owner": "ops"}));
    // `"metadata": null` removes them all.
    let (status, cleared) = o
        .send(
            "PATCH",
            &format!("{NS}/timers/labelled"),
            Some(json!({"metadata": null})),
        )
        .await;
    assert_eq!(status, 200, "{cleared}");
    assert_eq!(cleared["metadata"], json!({}));

    // Created with POST and in a batch: 12 timers with app=crony (team a for every third),
    // 6 with app=other; ids that sort apart from their order of creation.
    let mut crony = Vec::new();
    let mut crony_a = Vec::new();
    let mut items = Vec::new();
    for i in 0..18 {
        let id = format!("b{:02}", (i * 7) % 18);
        let app = if i % 3 == 2 { "other" } else { "crony" };
        let team = if i % 3 == 0 { "a" } else { "b" };
        if app == "crony" {
            crony.push(id.clone());
            if team == "a" {
                crony_a.push(id.clone());
            }
        }
        let mut item = timer(&sink, json!({"app": app, "team": team}));
        item["id"] = json!(id);
        if i == 0 {
            let (status, posted) = o.send("POST", &format!("{NS}/timers"), Some(item)).await;
            assert_eq!(status, 201, "{posted}");
            assert_eq!(posted["metadata"]["app"], "crony");
        } else {
            items.push(item);
        }
    }
    let (status, batch) = o
        .send(
            "POST",
            &format!("{NS}/timers:batch"),
            Some(json!({ "timers": items })),
        )
        .await;
    assert_eq!(status, 200, "{batch}");
    for result in batch["results"].as_array().unwrap() {
        assert_eq!(result["status"], 201, "{result}");
        assert!(result["timer"]["metadata"]["app"].is_string(), "{result}");
    }
    crony.sort();
    crony_a.sort();

    // One key, then two (an AND), page by page.
    let got = pages(&o, "metadata.app=crony", 5).await;
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got[..2].iter().all(|p| p.len() == 5), "{got:?}");
    assert_eq!(got.concat(), crony);
    let got = pages(&o, "metadata.app=crony&metadata.team=a", 2).await;
    assert_eq!(got.concat(), crony_a);
    assert!(got.iter().all(|p| p.len() <= 2));
    assert_eq!(
        pages(&o, "metadata.app=nobody", 10).await,
        vec![Vec::<String>::new()]
    );

    // With a status: cancel two crony timers; they leave the default listing and are found
    // with status=cancelled.
    for id in &crony[..2] {
        let (status, gone) = o.send("DELETE", &format!("{NS}/timers/{id}"), None).await;
        assert_eq!(status, 200, "{gone}");
    }
    assert_eq!(
        pages(&o, "metadata.app=crony", 4).await.concat(),
        crony[2..]
    );
    assert_eq!(
        pages(&o, "metadata.app=crony&status=scheduled", 4)
            .await
            .concat(),
        crony[2..]
    );
    assert_eq!(
        pages(&o, "status=cancelled&metadata.app=crony", 1)
            .await
            .concat(),
        crony[..2]
    );

    // Filters with a key or value no timer can hold are refused, with their field.
    for (query, field) in [
        ("metadata.a%20b=x", "metadata.a b"),
        ("metadata.=x", "metadata."),
        ("metadata.app=crony&metadata.app=other", "metadata.app"),
    ] {
        let (status, err) = o.send("GET", &format!("{NS}/timers?{query}"), None).await;
        assert_eq!(status, 422, "{query}: {err}");
        assert_eq!(err["field"], field, "{query}: {err}");
    }
    let long = "x".repeat(513);
    let (status, err) = o
        .send("GET", &format!("{NS}/timers?metadata.k={long}"), None)
        .await;
    assert_eq!((status, err["field"].as_str()), (422, Some("metadata.k")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_metadata_is_refused_and_nothing_is_stored() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    let many: serde_json::Map<String, Value> =
        (0..33).map(|i| (format!("k{i}"), json!("v"))).collect();
    let long_key = "k".repeat(65);
    let mut with_long_key = serde_json::Map::new();
    with_long_key.insert(long_key.clone(), json!("x"));
    let cases = [
        (json!({"a b": "x"}), "metadata.a b".to_owned()),
        (json!({"a=b": "x"}), "metadata.a=b".to_owned()),
        (Value::Object(with_long_key), format!("metadata.{long_key}")),
        (json!({"k": "x".repeat(513)}), "metadata.k".to_owned()),
        (json!({"k": 7}), "metadata.k".to_owned()),
        (json!(["k"]), "metadata".to_owned()),
        (Value::Object(many), "metadata".to_owned()),
    ];
    for (metadata, field) in &cases {
        for (method, path) in [
            ("PUT", format!("{NS}/timers/bad")),
            ("POST", format!("{NS}/timers")),
        ] {
            let (status, err) = o
                .send(method, &path, Some(timer(&sink, metadata.clone())))
                .await;
            assert_eq!(status, 422, "{method} {metadata}: {err}");
            assert_eq!(err["error"], "invalid_field", "{method} {metadata}: {err}");
            assert_eq!(err["field"], *field, "{method} {metadata}: {err}");
        }
        // In a batch, the item alone is refused.
        let (status, batch) = o
            .send(
                "POST",
                &format!("{NS}/timers:batch"),
                Some(json!({"timers": [timer(&sink, metadata.clone())]})),
            )
            .await;
        assert_eq!(status, 200, "{batch}");
        assert_eq!(batch["results"][0]["status"], 422, "{batch}");
        assert_eq!(
            batch["results"][0]["error"]["field"],
            format!("timers[0].{field}"),
            "{batch}"
        );
    }

    // A patch that would break the bounds is refused; the timer is unchanged.
    let (status, created) = o
        .send(
            "PUT",
            &format!("{NS}/timers/kept"),
            Some(timer(&sink, json!({"app": "crony"}))),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let full: serde_json::Map<String, Value> =
        (0..32).map(|i| (format!("k{i}"), json!("v"))).collect();
    for (patch, field) in [
        (json!({"metadata": {"bad key": "x"}}), "metadata.bad key"),
        (json!({"metadata": {"app": 1}}), "metadata.app"),
        (json!({"metadata": "x"}), "metadata"),
        // 32 new keys and the one the timer has: the merged map is over the bound, which only
        // the scheduler sees.
        (json!({ "metadata": full }), "metadata"),
    ] {
        let (status, err) = o
            .send("PATCH", &format!("{NS}/timers/kept"), Some(patch.clone()))
            .await;
        assert_eq!(status, 422, "{patch}: {err}");
        assert_eq!(err["field"], field, "{patch}: {err}");
    }
    let (_, read) = o.send("GET", &format!("{NS}/timers/kept"), None).await;
    assert_eq!(read["metadata"], json!({"app": "crony"}));
    assert_eq!(read["revision"], created["revision"]);

    // Nothing but the kept timer was stored.
    let all = pages(&o, "status=scheduled", 100).await.concat();
    assert_eq!(all, ["kept"]);
    assert_eq!(
        pages(&o, "metadata.app=crony", 100).await.concat(),
        ["kept"]
    );
}
