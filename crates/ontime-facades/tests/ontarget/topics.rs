//! Topics, the bodies the API reads, and what it answers outside its routes.

use std::collections::BTreeSet;

use serde_json::json;

use super::{Body, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_are_created_read_changed_listed_and_deleted() {
    let w = World::start().await;
    w.get("/schedule/topics").await.is(200, "[]");

    let id = w
        .send(
            "POST",
            "/schedule/topics",
            Body::Form(&[("name", "a"), ("description", "b")]),
        )
        .await
        .created();
    let shown = w.get(&format!("/schedule/topics/{id}")).await;
    assert_eq!(shown.status, 200);
    assert_eq!(
        shown.json(),
        json!({"id": id, "name": "a", "description": "b"})
    );
    // It is a native topic, visible through /v1.
    let native = w.native(&format!("/topics/{id}")).await.unwrap();
    assert_eq!(native["description"], "b");

    // Omitted fields are "".
    let bare = w
        .send("POST", "/schedule/topics", Body::None)
        .await
        .created();
    assert_eq!(
        w.get(&format!("/schedule/topics/{bare}")).await.json(),
        json!({"id": bare, "name": "", "description": ""})
    );
    let listed: BTreeSet<String> = w.ids("/schedule/topics").await.into_iter().collect();
    assert_eq!(listed, BTreeSet::from([id.clone(), bare.clone()]));
    let items = w.get("/schedule/topics").await.json();
    assert!(
        items
            .as_array()
            .unwrap()
            .contains(&json!({"id": id, "name": "a", "description": "b"}))
    );

    // A change writes only the fields given and not empty.
    w.send(
        "PUT",
        &format!("/schedule/topics/{id}"),
        Body::Form(&[("description", "c")]),
    )
    .await
    .is(200, &format!("UPDATED: {id}"));
    w.send(
        "PUT",
        &format!("/schedule/topics/{id}"),
        Body::Form(&[("name", ""), ("description", "")]),
    )
    .await
    .is(200, &format!("UPDATED: {id}"));
    assert_eq!(
        w.get(&format!("/schedule/topics/{id}")).await.json(),
        json!({"id": id, "name": "a", "description": "c"})
    );

    w.send("DELETE", &format!("/schedule/topics/{id}"), Body::None)
        .await
        .is(200, &format!("REMOVED: {id}"));
    w.get(&format!("/schedule/topics/{id}"))
        .await
        .is(404, &format!("NO TOPIC: {id}"));
    assert!(w.native(&format!("/topics/{id}")).await.is_none());
    w.send("DELETE", &format!("/schedule/topics/{id}"), Body::None)
        .await
        .is(404, &format!("NOT REMOVED: {id}"));
    assert_eq!(w.ids("/schedule/topics").await, vec![bare]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_topics_and_bad_input_are_refused_and_store_nothing() {
    let w = World::start().await;
    let unknown = "0bc52d28-27cd-42b4-a726-3c0e5ff5ae9f";
    w.get(&format!("/schedule/topics/{unknown}"))
        .await
        .is(404, &format!("NO TOPIC: {unknown}"));
    w.send(
        "PUT",
        &format!("/schedule/topics/{unknown}"),
        Body::Form(&[("name", "x")]),
    )
    .await
    .is(400, &format!("CREATE FIRST: {unknown}"));
    w.send("DELETE", &format!("/schedule/topics/{unknown}"), Body::None)
        .await
        .is(404, &format!("NOT REMOVED: {unknown}"));
    // Ids no topic can have.
    for odd in ["a%20b", "%C3%A9", &"x".repeat(300)] {
        let reply = w.get(&format!("/schedule/topics/{odd}")).await;
        assert_eq!(reply.status, 404, "{reply:?}");
    }
    w.get("/schedule/topics/%FF").await.is(400, "INVALID PATH");

    let long = "x".repeat(2000);
    for (body, text) in [
        (
            Body::Form(&[("name", long.as_str())]),
            "NAME TOO LONG: at most 512 characters",
        ),
        (
            Body::Form(&[("description", long.as_str())]),
            "DESCRIPTION TOO LONG: at most 1024 characters",
        ),
        (
            Body::Raw(Some("application/json"), b"{\"name\": ".to_vec()),
            "INVALID BODY",
        ),
        (
            Body::Raw(Some("application/json"), b"42".to_vec()),
            "INVALID BODY",
        ),
        (
            Body::Raw(Some("multipart/form-data; boundary=x"), b"garbage".to_vec()),
            "INVALID BODY",
        ),
    ] {
        w.send("POST", "/schedule/topics", body).await.is(400, text);
    }
    let too_big = vec![b'a'; 2 * 1024 * 1024];
    let reply = w
        .send(
            "POST",
            "/schedule/topics",
            Body::Raw(Some("application/x-www-form-urlencoded"), too_big),
        )
        .await;
    reply.is(413, "PAYLOAD TOO LARGE");
    w.get("/schedule/topics").await.is(200, "[]");
    assert!(
        w.native("/topics").await.unwrap()["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_come_from_forms_json_and_multipart() {
    let w = World::start().await;
    let read = |id: String| {
        let w = &w;
        async move { w.get(&format!("/schedule/topics/{id}")).await.json() }
    };
    // JSON, which the original ignored, and the `+json` types it read.
    let json_id = w
        .send(
            "POST",
            "/schedule/topics",
            Body::Json(json!({"name": "j", "description": 5})),
        )
        .await
        .created();
    assert_eq!(read(json_id.clone()).await["description"], "5");
    let vendor = w
        .send(
            "POST",
            "/schedule/topics",
            Body::Raw(
                Some("application/vnd.x+json"),
                br#"{"name": "v", "description": {"nested": 1}}"#.to_vec(),
            ),
        )
        .await
        .created();
    let shown = read(vendor.clone()).await;
    assert_eq!(
        shown,
        json!({"id": vendor, "name": "v", "description": ""}),
        "an object is no field"
    );
    let multipart = b"--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nm\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"description\"; filename=\"d.txt\"\r\n\
Content-Type: text/plain\r\n\r\nnot a field\r\n--XyZ--\r\n";
    let mp = w
        .send(
            "POST",
            "/schedule/topics",
            Body::Raw(
                Some("multipart/form-data; boundary=XyZ"),
                multipart.to_vec(),
            ),
        )
        .await
        .created();
    let shown = read(mp).await;
    assert_eq!(
        (&shown["name"], &shown["description"]),
        (&json!("m"), &json!(""))
    );
    // Plain text, or any other type, has no fields.
    let text = w
        .send(
            "POST",
            "/schedule/topics",
            Body::Raw(Some("text/plain"), b"name=t".to_vec()),
        )
        .await
        .created();
    assert_eq!(read(text).await["name"], "");
    // A JSON change.
    w.send(
        "PUT",
        &format!("/schedule/topics/{json_id}"),
        Body::Json(json!({"description": "changed"})),
    )
    .await
    .is(200, &format!("UPDATED: {json_id}"));
    assert_eq!(read(json_id).await["description"], "changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_come_in_pages_when_asked() {
    let w = World::start().await;
    let mut made = BTreeSet::new();
    for name in ["a", "b", "c"] {
        made.insert(w.topic(name).await);
    }
    let first = w.get("/schedule/topics?limit=2").await;
    assert_eq!(first.json().as_array().unwrap().len(), 2);
    let link = first.headers["link"].to_str().unwrap().to_owned();
    let next = link
        .strip_prefix('<')
        .and_then(|l| l.strip_suffix(">; rel=\"next\""))
        .unwrap_or_else(|| panic!("{link}"));
    assert!(
        next.starts_with("/schedule/topics?limit=2&cursor="),
        "{next}"
    );
    let second = w.get(next).await;
    assert!(!second.headers.contains_key("link"), "the last page");
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for page in [first.json(), second.json()] {
        for item in page.as_array().unwrap() {
            seen.insert(item["id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(seen, made);
    assert!(!w.get("/schedule/topics").await.headers.contains_key("link"));
    for bad in ["0", "1001", "x"] {
        w.get(&format!("/schedule/topics?limit={bad}"))
            .await
            .is(400, &format!("INVALID LIMIT: {bad}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_home_document_and_the_originals_wire() {
    let w = World::start().await;
    let home = w.raw("GET", "/", Body::None, &[]).await;
    assert_eq!(home.status, 200);
    assert_eq!(
        home.headers["content-type"],
        "application/vnd.uber+json; charset=utf-8"
    );
    assert_eq!(home.json(), json!({"uber": {"version": "1.0"}}));
    w.get("/schedule").await.is(200, "OK");
    w.get("/schedule/").await.is(200, "OK");

    // X-HTTP-Method-Override on a POST, as Express's method-override honoured it.
    let id = w.topic("a").await;
    w.send_with(
        "POST",
        &format!("/schedule/topics/{id}"),
        Body::Form(&[("description", "overridden")]),
        &[("X-HTTP-Method-Override", "PUT")],
    )
    .await
    .is(200, &format!("UPDATED: {id}"));
    assert_eq!(
        w.get(&format!("/schedule/topics/{id}")).await.json()["description"],
        "overridden"
    );

    // What Express had no route for.
    for (method, path) in [
        ("GET", "/schedule/nothing"),
        ("PATCH", "/schedule/topics"),
        ("POST", "/schedule/topics/x/at"),
        ("GET", "/schedule/topics/x/at/2030-01-01"),
        ("PUT", "/schedule/topics/x/events/y"),
        ("POST", "/"),
    ] {
        w.send(method, path, Body::None)
            .await
            .is(404, &format!("Cannot {method} {path}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_out_of_reach_is_a_503_that_says_to_try_again() {
    let mut w = World::start().await;
    w.nats.kill().await;
    let reply = w.get("/schedule/topics").await;
    reply.is(503, "SERVICE UNAVAILABLE: try again");
}
