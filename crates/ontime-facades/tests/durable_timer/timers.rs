//! Create, get, update, delete; upsert; the 404 and 400 answers.

use serde_json::{Value, json};

use super::{World, in_ms, rfc3339};

fn create_body(world: &World, ns: &str, id: &str, payload: Value) -> Value {
    json!({
        "namespace": ns, "id": id, "executeAt": rfc3339(in_ms(3_600_000)),
        "callbackUrl": world.sink.url("/cb"), "payload": payload,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_get_update_delete() {
    let w = World::start().await;
    let body = create_body(&w, "shop", "t1", json!({"a": 1, "b": 2}));
    let (code, created) = w.post("/timers/create", body.clone()).await;
    assert_eq!(code, 200, "{created}");
    for field in ["id", "namespace", "executeAt", "callbackUrl", "payload"] {
        let expected = if field == "executeAt" {
            json!(body[field].as_str().unwrap())
        } else {
            body[field].clone()
        };
        assert_eq!(created[field], expected, "{field}");
    }
    assert_eq!(created["callbackTimeoutSeconds"], 30);
    assert_eq!(created["retryPolicy"]["maxAttempts"], 5);

    let (code, read) = w.get("shop", "t1").await;
    assert_eq!(code, 200);
    assert_eq!(read, created);

    // A native timer in the request's namespace, visible through /v1.
    let (code, native) = w.native("shop", "t1").await;
    assert_eq!(code, 200);
    assert_eq!(native["status"], "scheduled");
    assert_eq!(native["schedule"]["at"], created["executeAt"]);
    assert_eq!(
        native["target"]["http"]["body"]["payload"],
        json!({"a": 1, "b": 2})
    );

    // A partial update: the payload is replaced whole, executeAt is kept.
    let (code, updated) = w
        .post(
            "/timers/update",
            json!({"namespace": "shop", "timerId": "t1", "payload": {"c": 3}}),
        )
        .await;
    assert_eq!(code, 200, "{updated}");
    assert_eq!(updated["payload"], json!({"c": 3}));
    assert_eq!(updated["executeAt"], created["executeAt"]);
    assert_eq!(updated["createdAt"], created["createdAt"]);

    let later = rfc3339(in_ms(7_200_000));
    let (code, moved) = w
        .post(
            "/timers/update",
            json!({"namespace": "shop", "timerId": "t1", "executeAt": later,
                   "callbackTimeoutSeconds": 5, "retryPolicy": {"maxRetries": 2}}),
        )
        .await;
    assert_eq!(code, 200, "{moved}");
    assert_eq!(moved["executeAt"], json!(later));
    assert_eq!(moved["payload"], json!({"c": 3}));
    assert_eq!(moved["callbackTimeoutSeconds"], 5);
    assert_eq!(moved["retryPolicy"]["maxAttempts"], 3);

    let (code, none) = w
        .post(
            "/timers/delete",
            json!({"namespace": "shop", "timerId": "t1"}),
        )
        .await;
    assert_eq!((code, none), (204, Value::Null));
    let (code, gone) = w.get("shop", "t1").await;
    assert_eq!(code, 404);
    assert_eq!(gone["error"], "TIMER_NOT_FOUND");
    assert_eq!(gone["message"], "Timer with ID 't1' not found");
    assert!(gone["timestamp"].is_string());
    let (code, again) = w
        .post(
            "/timers/delete",
            json!({"namespace": "shop", "timerId": "t1"}),
        )
        .await;
    assert_eq!(
        (code, again["error"].as_str()),
        (404, Some("TIMER_NOT_FOUND"))
    );
    let (code, _) = w
        .post(
            "/timers/update",
            json!({"namespace": "shop", "timerId": "t1", "payload": {}}),
        )
        .await;
    assert_eq!(code, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_with_an_existing_id_overwrites_and_namespaces_are_apart() {
    let w = World::start().await;
    let (code, first) = w
        .post(
            "/timers/create",
            create_body(&w, "a", "same", json!({"v": 1})),
        )
        .await;
    assert_eq!(code, 200);
    let (code, second) = w
        .post(
            "/timers/create",
            create_body(&w, "a", "same", json!({"v": 2})),
        )
        .await;
    assert_eq!(code, 200, "an overwrite is a 200 too");
    assert_eq!(second["payload"], json!({"v": 2}));
    assert_eq!(second["createdAt"], first["createdAt"]);
    let (_, read) = w.get("a", "same").await;
    assert_eq!(read["payload"], json!({"v": 2}));

    let (code, other) = w
        .post(
            "/timers/create",
            create_body(&w, "b", "same", json!({"v": 3})),
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(other["namespace"], "b");
    let (_, read) = w.get("a", "same").await;
    assert_eq!(
        read["payload"],
        json!({"v": 2}),
        "another namespace is another timer"
    );
    let (code, _) = w.get("c", "same").await;
    assert_eq!(code, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_400_invalid_input_and_stores_nothing() {
    let w = World::start().await;
    let good = create_body(&w, "bad", "t", json!({"a": 1}));
    let with = |field: &str, value: Value| {
        let mut doc = good.clone();
        doc[field] = value;
        doc
    };
    let without = |field: &str| {
        let mut doc = good.clone();
        doc.as_object_mut().unwrap().remove(field);
        doc
    };
    let cases = [
        ("no namespace", without("namespace"), Some("namespace")),
        ("no id", without("id"), Some("id")),
        ("no executeAt", without("executeAt"), Some("executeAt")),
        (
            "no callbackUrl",
            without("callbackUrl"),
            Some("callbackUrl"),
        ),
        (
            "past executeAt",
            with("executeAt", json!(rfc3339(in_ms(-60_000)))),
            Some("executeAt"),
        ),
        (
            "not an instant",
            with("executeAt", json!("tomorrow")),
            Some("executeAt"),
        ),
        (
            "id over 255",
            with("id", json!("x".repeat(256))),
            Some("id"),
        ),
        ("id with a space", with("id", json!("a b")), Some("id")),
        (
            "bad namespace",
            with("namespace", json!("a/b")),
            Some("namespace"),
        ),
        (
            "url over 2048",
            with(
                "callbackUrl",
                json!(format!("http://x.test/{}", "a".repeat(2048))),
            ),
            Some("callbackUrl"),
        ),
        (
            "not a url",
            with("callbackUrl", json!("nope")),
            Some("callbackUrl"),
        ),
        (
            "payload not an object",
            with("payload", json!([1])),
            Some("payload"),
        ),
        (
            "timeout 0",
            with("callbackTimeoutSeconds", json!(0)),
            Some("callbackTimeoutSeconds"),
        ),
        (
            "timeout not an integer",
            with("callbackTimeoutSeconds", json!(1.5)),
            Some("callbackTimeoutSeconds"),
        ),
        (
            "maxAttempts 0",
            with("retryPolicy", json!({"maxAttempts": 0})),
            Some("retryPolicy.maxAttempts"),
        ),
        (
            "bad interval",
            with("retryPolicy", json!({"initialInterval": "soon"})),
            Some("retryPolicy.initialInterval"),
        ),
        ("unknown field", with("color", json!("red")), Some("color")),
    ];
    for (what, body, field) in cases {
        let (code, error) = w.post("/timers/create", body).await;
        assert_eq!(code, 400, "{what}: {error}");
        assert_eq!(error["error"], "INVALID_INPUT", "{what}");
        assert_eq!(error["details"]["field"].as_str(), field, "{what}: {error}");
    }
    for (path, body) in [
        ("/timers/create", "not json".to_owned()),
        ("/timers/create", "[]".to_owned()),
        ("/timers/get", "{}".to_owned()),
        (
            "/timers/get",
            json!({"namespace": "bad", "id": "t"}).to_string(),
        ),
        ("/timers/update", json!({"namespace": "bad"}).to_string()),
        (
            "/timers/delete",
            json!({"namespace": "bad", "timerId": 7}).to_string(),
        ),
    ] {
        let (code, error) = w.post_raw(path, body.clone()).await;
        assert_eq!(code, 400, "{path} {body}: {error}");
        assert_eq!(error["error"], "INVALID_INPUT");
    }
    // Nothing was stored in the namespace.
    let r = w
        .ontime
        .http
        .get(w.ontime.api("/namespaces/bad/timers"))
        .send()
        .await
        .unwrap();
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["items"], json!([]), "{page}");

    // An update that fails validation leaves the timer as it was.
    let (code, _) = w.post("/timers/create", good.clone()).await;
    assert_eq!(code, 200);
    let (code, error) = w
        .post(
            "/timers/update",
            json!({"namespace": "bad", "timerId": "t", "callbackUrl": "nope"}),
        )
        .await;
    assert_eq!(
        (code, error["details"]["field"].as_str()),
        (400, Some("callbackUrl"))
    );
    let (_, read) = w.get("bad", "t").await;
    assert_eq!(read["callbackUrl"], good["callbackUrl"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_served_beside_the_api() {
    let w = World::start().await;
    let r = w
        .ontime
        .http
        .get(format!("{}/api/v1/openapi.yaml", w.ontime.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.text().await.unwrap(),
        include_str!("../../api/durable-timer-api.yaml")
    );
    let r = w
        .ontime
        .http
        .get(format!("{}/api/v1/timers/get", w.ontime.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST");
}
