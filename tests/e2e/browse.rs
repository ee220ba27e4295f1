//! What an operator browses, through the real gateway on a real nats-server with tokens on:
//! the namespaces in use (as far as a token may see them), listings by schedule kind, the
//! console's files and the API's documentation page, served without a token.

use ontime_testkit::{NatsServer, Ontime, Sink, gateway_config};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

const OPERATOR: &str = "operator-token-0123456789abcdef";

async fn send(
    o: &Ontime,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = o
        .http
        .request(method, format!("{}{path}", o.url))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn with_tokens(nats: &NatsServer) -> Ontime {
    let config = ontime_gateway::GatewayConfig {
        auth: ontime_gateway::Auth::Tokens {
            admin_token: Some(OPERATOR.into()),
        },
        ..gateway_config()
    };
    Ontime::start_with(&nats.url(), 1, 0, config).await
}

/// The ids of `GET /v1/namespaces/{ns}/timers?<query>`, one page.
async fn ids(o: &Ontime, ns: &str, query: &str) -> Vec<String> {
    let path = format!("/v1/namespaces/{ns}/timers?{query}");
    let (status, page) = send(o, Method::GET, &path, OPERATOR, None).await;
    assert_eq!(status, 200, "{path}: {page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_in_use_and_timers_by_kind() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let o = with_tokens(&nats).await;
    let url = sink.url("/never");
    let target = json!({"http": {"url": url}});
    let schedules = [
        ("at", json!({"at": "2099-01-01T00:00:00Z"})),
        ("after", json!({"after": "1h"})),
        (
            "cron",
            json!({"cron": "0 0 9 * * MON", "timezone": "Europe/Paris"}),
        ),
        ("every", json!({"every": "1h"})),
        ("iso", json!({"iso": "R5/2099-01-01T00:00:00Z/P1D"})),
    ];
    for (id, schedule) in &schedules {
        let body = json!({"schedule": schedule, "target": target, "metadata": {"set": "kinds"}});
        let path = format!("/v1/namespaces/kinds/timers/{id}");
        let (status, made) = send(&o, Method::PUT, &path, OPERATOR, Some(body)).await;
        assert_eq!(status, 200, "{made}");
    }
    let body = json!({"schedule": {"every": "2h"}, "target": target});
    let (status, made) = send(
        &o,
        Method::PUT,
        "/v1/namespaces/billing/timers/b",
        OPERATOR,
        Some(body),
    )
    .await;
    assert_eq!(status, 200, "{made}");
    let (status, made) = send(
        &o,
        Method::PUT,
        "/v1/namespaces/news/topics/daily",
        OPERATOR,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 201, "{made}");

    // Each kind finds its own timer, alone or with a status or metadata filter.
    for (kind, _) in &schedules {
        assert_eq!(ids(&o, "kinds", &format!("kind={kind}")).await, [*kind]);
        assert_eq!(
            ids(
                &o,
                "kinds",
                &format!("kind={kind}&status=scheduled&metadata.set=kinds")
            )
            .await,
            [*kind]
        );
    }
    assert!(
        ids(&o, "kinds", "kind=every&metadata.set=other")
            .await
            .is_empty()
    );
    assert!(ids(&o, "kinds", "kind=cron&status=paused").await.is_empty());
    let (status, err) = send(
        &o,
        Method::GET,
        "/v1/namespaces/kinds/timers?kind=weekly",
        OPERATOR,
        None,
    )
    .await;
    assert_eq!(
        (status.as_u16(), err["field"].as_str()),
        (422, Some("kind")),
        "{err}"
    );

    // Every namespace with timers or topics, for a token of every namespace; only its own
    // for a scoped one; none for no token.
    let (status, all) = send(&o, Method::GET, "/v1/namespaces", OPERATOR, None).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all, json!({"namespaces": ["billing", "kinds", "news"]}));
    let made =
        json!({"name": "billing reader", "role": "read", "namespaces": ["billing", "empty"]});
    let (status, made) = send(&o, Method::POST, "/v1/tokens", OPERATOR, Some(made)).await;
    assert_eq!(status, 201, "{made}");
    let reader = made["token"].as_str().unwrap();
    let (status, seen) = send(&o, Method::GET, "/v1/namespaces", reader, None).await;
    assert_eq!(
        (status, seen),
        (StatusCode::OK, json!({"namespaces": ["billing"]}))
    );
    let anonymous = o
        .http
        .get(format!("{}/v1/namespaces", o.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_and_the_docs_page_are_served_without_a_token() {
    let nats = NatsServer::start().await;
    let o = with_tokens(&nats).await;
    let get = |path: &str| o.http.get(format!("{}{path}", o.url));

    // The console: its page, under a policy that lets it load and call this origin only,
    // revalidated by its tag.
    let moved = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/console", o.url))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(moved.headers()[header::LOCATION], "/console/");
    let page = get("/console/").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let headers = page.headers().clone();
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(policy.contains("default-src 'self'") && policy.contains("script-src 'self'"));
    assert!(page.text().await.unwrap().contains("<html"));
    let tag = headers[header::ETAG].clone();
    let again = get("/console/")
        .header(header::IF_NONE_MATCH, tag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let missing = get("/console/no-such-file.js").send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let missing: Value = missing.json().await.unwrap();
    assert_eq!(missing["error"], "not_found", "{missing}");

    // The documentation page: Swagger UI, its files from the binary, over /openapi.json.
    let docs = get("/docs/").send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.text().await.unwrap().contains("swagger-ui-bundle.js"));
    let init = get("/docs/swagger-initializer.js")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("\"url\": \"/openapi.json\""), "{init}");
    let bundle = get("/docs/swagger-ui-bundle.js").send().await.unwrap();
    assert_eq!(bundle.status(), StatusCode::OK);
    assert!(bundle.bytes().await.unwrap().len() > 100_000);
}
