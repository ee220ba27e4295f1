//! Trust, end to end: API tokens with roles and namespaces on every API (the seeds' facades
//! included, each refusing in its own error shape), revocation seen by every gateway, signed
//! calls verified by the Standard Webhooks reference library, prerequisites (bearer, basic,
//! header, OAuth2 client credentials), the target guard, and secrets that no read, stream or
//! bucket gives back.

use std::time::Duration;

use async_nats::jetstream;
use ontime_core::trust::guard::TargetGuard;
use ontime_testkit::{Call, NatsServer, Ontime, Sink, eventually, gateway_config};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(30);
const OPERATOR: &str = "operator-token-0123456789abcdef";

/// A gateway with tokens on (the operator's admin token given), one scheduler, one worker.
async fn with_tokens(nats: &NatsServer) -> Ontime {
    let config = ontime_gateway::GatewayConfig {
        auth: ontime_gateway::Auth::Tokens {
            admin_token: Some(OPERATOR.into()),
        },
        ..gateway_config()
    };
    Ontime::start_with(&nats.url(), 1, 1, config).await
}

/// `method path` with `token` (if any) and `body` (if any): the status and the body, as JSON
/// when it is JSON and as a string otherwise.
async fn send(
    o: &Ontime,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut request = o.http.request(method, format!("{}{path}", o.url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body, headers)
}

/// A new token made by `maker`.
async fn token(o: &Ontime, maker: &str, role: &str, namespaces: Value) -> (String, String) {
    let body = json!({"name": format!("{role} token"), "role": role, "namespaces": namespaces});
    let (status, made, _) = send(o, Method::POST, "/v1/tokens", Some(maker), Some(body)).await;
    assert_eq!(status, 201, "{made}");
    (
        made["token"].as_str().unwrap().to_owned(),
        made["id"].as_str().unwrap().to_owned(),
    )
}

fn timer(url: &str) -> Value {
    json!({"schedule": {"after": "1h"}, "target": {"http": {"url": url}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_needs_a_token_with_the_right_role_and_namespace() {
    let nats = NatsServer::start().await;
    let o = with_tokens(&nats).await;

    for open in ["/health", "/ready", "/openapi.json"] {
        let (status, _, _) = send(&o, Method::GET, open, None, None).await;
        assert_eq!(status, 200, "{open} stays open");
    }
    let timers = "/v1/namespaces/billing/timers";
    let (status, body, headers) = send(&o, Method::GET, timers, None, None).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "unauthorized");
    assert_eq!(headers["www-authenticate"], "Bearer realm=\"ontime\"");
    let forged = "ot_0123456789abcdef_not-the-secret";
    for bad in [forged, "nonsense", OPERATOR.trim_end_matches('f')] {
        let (status, _, _) = send(&o, Method::GET, timers, Some(bad), None).await;
        assert_eq!(status, 401, "{bad}");
    }

    let (writer, _) = token(&o, OPERATOR, "write", json!(["billing"])).await;
    let (reader, _) = token(&o, OPERATOR, "read", json!(["billing"])).await;
    let (status, body, _) = send(
        &o,
        Method::PUT,
        &format!("{timers}/t1"),
        Some(&writer),
        Some(timer("http://sink.test/")),
    )
    .await;
    assert!(status.is_success(), "{body}");
    let (status, body, _) = send(
        &o,
        Method::PUT,
        "/v1/namespaces/payroll/timers/t1",
        Some(&writer),
        Some(timer("http://sink.test/")),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (status, _, _) = send(
        &o,
        Method::GET,
        &format!("{timers}/t1"),
        Some(&reader),
        None,
    )
    .await;
    assert_eq!(status, 200);
    for (method, path) in [
        (Method::DELETE, format!("{timers}/t1")),
        (Method::POST, format!("{timers}/t1:pause")),
    ] {
        let (status, _, _) = send(&o, method.clone(), &path, Some(&reader), None).await;
        assert_eq!(status, 403, "a reader may not {method} {path}");
    }
    let (status, _, _) = send(
        &o,
        Method::GET,
        "/v1/schedules:preview?every=1h",
        Some(&reader),
        None,
    )
    .await;
    assert_eq!(status, 200, "a preview needs any token");
    // Namespace settings are read with `read` and changed with `admin`.
    let (status, _, _) = send(
        &o,
        Method::PUT,
        "/v1/namespaces/billing/prerequisites/p",
        Some(&writer),
        Some(json!({"kind": "bearer", "token": "t"})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, _) = send(
        &o,
        Method::GET,
        "/v1/namespaces/billing/prerequisites",
        Some(&reader),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = send(&o, Method::GET, "/v1/tokens", Some(&writer), None).await;
    assert_eq!(status, 403, "only admins manage tokens");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_apis_refuse_in_their_own_shapes() {
    let nats = NatsServer::start().await;
    let o = with_tokens(&nats).await;
    let (billing, _) = token(&o, OPERATOR, "write", json!(["billing"])).await;
    let (crony, _) = token(&o, OPERATOR, "write", json!(["crony"])).await;

    // Crony and CronHubot: `{"status": <label>, "message": …}`.
    for path in ["/events", "/cronjobs"] {
        let (status, body, headers) = send(&o, Method::GET, path, None, None).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthorized")),
            "{path}"
        );
        assert!(headers.contains_key("www-authenticate"));
        let (status, body, _) = send(&o, Method::GET, path, Some(&billing), None).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden")),
            "{path}"
        );
    }
    let (status, body, _) = send(&o, Method::GET, "/events", Some(&crony), None).await;
    assert_eq!(status, 200, "{body}");

    // ontime-ontarget: plain text.
    let (status, body, _) = send(&o, Method::GET, "/schedule/topics", None, None).await;
    assert_eq!(status, 401);
    assert!(body.as_str().unwrap().starts_with("UNAUTHORIZED"), "{body}");

    // The Durable Timer API names the namespace in the body.
    let create = |ns: &str| {
        json!({"namespace": ns, "id": "d1", "executeAt": "2099-01-01T00:00:00Z",
               "callbackUrl": "http://sink.test/d"})
    };
    let path = "/api/v1/timers/create";
    let (status, body, _) = send(&o, Method::POST, path, None, Some(create("billing"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("UNAUTHORIZED"))
    );
    let (status, body, _) = send(
        &o,
        Method::POST,
        path,
        Some(&billing),
        Some(create("payroll")),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("FORBIDDEN"))
    );
    let (status, body, _) = send(
        &o,
        Method::POST,
        path,
        Some(&billing),
        Some(create("billing")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_grant_only_what_they_have_and_a_revocation_reaches_every_gateway() {
    let nats = NatsServer::start().await;
    let o = with_tokens(&nats).await;
    // A second gateway of the same installation.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let config = ontime_gateway::GatewayConfig {
        auth: ontime_gateway::Auth::Tokens { admin_token: None },
        ..gateway_config()
    };
    tokio::spawn(ontime_gateway::serve(
        listener,
        o.topology.clone(),
        config,
        stop.clone(),
    ));
    let _stop = stop.drop_guard();

    let (billing_admin, _) = token(&o, OPERATOR, "admin", json!(["billing"])).await;
    let (everywhere, everywhere_id) = token(&o, OPERATOR, "read", json!(["*"])).await;
    let body = json!({"name": "x", "role": "read", "namespaces": ["*"]});
    let (status, _, _) = send(
        &o,
        Method::POST,
        "/v1/tokens",
        Some(&billing_admin),
        Some(body),
    )
    .await;
    assert_eq!(
        status, 403,
        "a namespace's admin cannot grant every namespace"
    );
    let (reader, reader_id) = token(&o, &billing_admin, "read", json!(["billing"])).await;
    let (_, listed, _) = send(&o, Method::GET, "/v1/tokens", Some(&billing_admin), None).await;
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&reader_id.as_str()));
    assert!(
        !ids.contains(&everywhere_id.as_str()),
        "tokens beyond its namespaces are not shown"
    );
    assert!(
        !listed
            .to_string()
            .contains(reader.split('_').next_back().unwrap()),
        "no read shows a secret"
    );
    let (status, _, _) = send(
        &o,
        Method::DELETE,
        &format!("/v1/tokens/{everywhere_id}"),
        Some(&billing_admin),
        None,
    )
    .await;
    assert_eq!(status, 404, "nor can it revoke them");

    // The token works on the other gateway, and stops working there once revoked here.
    let on_other = |token: String| {
        let http = o.http.clone();
        let url = format!("{other}/v1/namespaces/billing/timers");
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    eventually(WAIT, "the other gateway ready", || async {
        (on_other(reader.clone()).await == 200).then_some(())
    })
    .await;
    let (status, _, _) = send(
        &o,
        Method::DELETE,
        &format!("/v1/tokens/{reader_id}"),
        Some(&billing_admin),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _, _) = send(
        &o,
        Method::GET,
        "/v1/namespaces/billing/timers",
        Some(&reader),
        None,
    )
    .await;
    assert_eq!(
        status, 401,
        "the gateway that revoked it refuses it at once"
    );
    eventually(
        WAIT,
        "the other gateway refusing the revoked token",
        || async { (on_other(reader.clone()).await == 401).then_some(()) },
    )
    .await;
    assert_eq!(on_other(everywhere).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_secrets_are_stored_only_sealed_or_hashed() {
    let nats = NatsServer::start().await;
    let o = with_tokens(&nats).await;
    let (writer, id) = token(&o, OPERATOR, "admin", json!(["billing"])).await;
    // The secret part of the token (base64url, which may itself contain `_`).
    let (_, secret) = ontime_core::trust::access::split_token(&writer).unwrap();
    let secret = secret.to_owned();
    let (status, _, _) = send(
        &o,
        Method::PUT,
        "/v1/namespaces/billing/prerequisites/api",
        Some(&writer),
        Some(json!({"kind": "basic", "username": "svc", "password": "pa55-word"})),
    )
    .await;
    assert_eq!(status, 201);
    let (status, made, _) = send(
        &o,
        Method::POST,
        "/v1/namespaces/billing/signing-secrets",
        Some(&writer),
        None,
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let whsec = made["secret"].as_str().unwrap().to_owned();
    assert!(whsec.starts_with("whsec_"));
    let mut spec = timer("http://sink.test/");
    spec["target"]["http"]["secret_headers"] = json!({"X-Api-Key": "k3y-value"});
    let (status, shown, _) = send(
        &o,
        Method::PUT,
        "/v1/namespaces/billing/timers/s",
        Some(&writer),
        Some(spec),
    )
    .await;
    assert!(status.is_success(), "{shown}");
    assert_eq!(
        shown["target"]["http"]["secret_headers"]["X-Api-Key"],
        "********"
    );

    // Every read masks them.
    let (_, shown, _) = send(
        &o,
        Method::GET,
        "/v1/namespaces/billing/timers/s",
        Some(&writer),
        None,
    )
    .await;
    assert_eq!(
        shown["target"]["http"]["secret_headers"]["X-Api-Key"],
        "********"
    );
    let (_, shown, _) = send(
        &o,
        Method::GET,
        "/v1/namespaces/billing/prerequisites/api",
        Some(&writer),
        None,
    )
    .await;
    assert_eq!(
        (shown["password"].as_str(), shown["username"].as_str()),
        (Some("********"), Some("svc"))
    );
    let (_, listed, _) = send(
        &o,
        Method::GET,
        "/v1/namespaces/billing/signing-secrets",
        Some(&writer),
        None,
    )
    .await;
    assert!(!listed.to_string().contains(&whsec[6..]), "{listed}");
    let (_, token_read, _) = send(
        &o,
        Method::GET,
        &format!("/v1/tokens/{id}"),
        Some(OPERATOR),
        None,
    )
    .await;
    assert!(!token_read.to_string().contains(&secret));

    // Nothing NATS holds has them in clear.
    let js = jetstream::new(o.topology.client.clone());
    for stream in [
        format!("KV_{}", o.names().trust_bucket()),
        format!("KV_{}", o.names().timers_bucket()),
    ] {
        let text = stream_text(&js, &stream).await;
        for clear in [secret.as_str(), "pa55-word", &whsec[6..], "k3y-value"] {
            assert!(!text.contains(clear), "{stream} holds {clear} in clear");
        }
    }
    // A read-modify-write that sends the mask back is refused, not stored.
    let (_, shown, _) = send(
        &o,
        Method::GET,
        "/v1/namespaces/billing/timers/s",
        Some(&writer),
        None,
    )
    .await;
    let spec = json!({"schedule": shown["schedule"], "target": shown["target"]});
    let (status, body, _) = send(
        &o,
        Method::PUT,
        "/v1/namespaces/billing/timers/s",
        Some(&writer),
        Some(spec),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "target.http.secret_headers.X-Api-Key");
}

/// Every message of `stream`, as text.
async fn stream_text(js: &jetstream::Context, stream: &str) -> String {
    let stream = js.get_stream(stream).await.unwrap();
    let last = stream.cached_info().state.last_sequence;
    let mut text = String::new();
    for seq in 1..=last {
        if let Ok(message) = stream.get_raw_message(seq).await {
            text.push_str(&String::from_utf8_lossy(&message.payload));
        }
    }
    text
}

/// Verifies `call` as a receiver would, with the Standard Webhooks reference library.
fn verifies(call: &Call, secret: &str) -> bool {
    let webhook = standardwebhooks::Webhook::new(secret).unwrap();
    webhook.verify(&call.body, &call.headers).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_are_signed_with_every_active_secret_of_their_namespace() {
    let nats = NatsServer::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    let sink = Sink::start().await;
    let call = |id: &'static str, path: &'static str| {
        let o = &o;
        let sink = &sink;
        async move {
            let body = json!({"schedule": {"after": "10ms"},
                "target": {"http": {"url": sink.url(path), "body": {"n": id}}}});
            let (status, b, _) = send(
                o,
                Method::PUT,
                &format!("/v1/namespaces/sig/timers/{id}"),
                None,
                Some(body),
            )
            .await;
            assert!(status.is_success(), "{b}");
            sink.wait_for(path, 1, WAIT).await.remove(0)
        }
    };
    // Without a secret of its own, a namespace's calls are signed all the same.
    let unsigned = call("a", "/a").await;
    let header = unsigned.header("webhook-signature").expect("a signature");
    assert!(
        header.starts_with("v1,") && !header.contains(' '),
        "{header}"
    );

    let new_secret = || async {
        let (status, made, _) = send(
            &o,
            Method::POST,
            "/v1/namespaces/sig/signing-secrets",
            None,
            None,
        )
        .await;
        assert_eq!(status, 201, "{made}");
        (
            made["secret"].as_str().unwrap().to_owned(),
            made["id"].as_str().unwrap().to_owned(),
        )
    };
    let (first, first_id) = new_secret().await;
    let signed = call("b", "/b").await;
    assert!(verifies(&signed, &first));
    assert!(!verifies(&unsigned, &first));

    // During a rotation both sign; each receiver's secret verifies on its own.
    let (second, _) = new_secret().await;
    let rotating = call("c", "/c").await;
    assert_eq!(
        rotating
            .header("webhook-signature")
            .unwrap()
            .split(' ')
            .count(),
        2
    );
    assert!(verifies(&rotating, &first) && verifies(&rotating, &second));

    let (status, _, _) = send(
        &o,
        Method::DELETE,
        &format!("/v1/namespaces/sig/signing-secrets/{first_id}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let rotated = call("d", "/d").await;
    assert!(verifies(&rotated, &second) && !verifies(&rotated, &first));

    // An imported secret signs too.
    let imported = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let (status, _, _) = send(
        &o,
        Method::POST,
        "/v1/namespaces/imp/signing-secrets",
        None,
        Some(json!({"secret": imported})),
    )
    .await;
    assert_eq!(status, 201);
    let body =
        json!({"schedule": {"after": "10ms"}, "target": {"http": {"url": sink.url("/imp")}}});
    send(
        &o,
        Method::PUT,
        "/v1/namespaces/imp/timers/i",
        None,
        Some(body),
    )
    .await;
    assert!(verifies(&sink.wait_for("/imp", 1, WAIT).await[0], imported));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prerequisites_alter_each_call() {
    let nats = NatsServer::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    let sink = Sink::start().await;
    let define = |name: &'static str, body: Value| {
        let o = &o;
        async move {
            let (status, b, _) = send(
                o,
                Method::PUT,
                &format!("/v1/namespaces/pre/prerequisites/{name}"),
                None,
                Some(body),
            )
            .await;
            assert_eq!(status, 201, "{b}");
        }
    };
    define("bearer", json!({"kind": "bearer", "token": "b-token"})).await;
    define(
        "basic",
        json!({"kind": "basic", "username": "u", "password": "p"}),
    )
    .await;
    define(
        "key",
        json!({"kind": "header", "header": "X-Api-Key", "value": "v"}),
    )
    .await;
    sink.script_answer(
        "/token",
        200,
        r#"{"access_token": "oauth-1", "token_type": "Bearer", "expires_in": 3600}"#,
        Duration::ZERO,
    );
    define(
        "oauth",
        json!({"kind": "oauth2", "token_url": sink.url("/token"), "client_id": "cid",
        "client_secret": "csecret", "scope": "calls"}),
    )
    .await;

    let create = |id: &'static str, prerequisites: Value| {
        let o = &o;
        let sink = &sink;
        async move {
            let body = json!({"schedule": {"after": "10ms"},
                "target": {"http": {"url": sink.url(&format!("/{id}")), "prerequisites": prerequisites}}});
            send(
                o,
                Method::PUT,
                &format!("/v1/namespaces/pre/timers/{id}"),
                None,
                Some(body),
            )
            .await
        }
    };
    let (status, body, _) = create("unknown", json!(["nope"])).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("target.http.prerequisites.0")
        )
    );

    let (status, b, _) = create("b", json!(["bearer", "key"])).await;
    assert!(status.is_success(), "{b}");
    let call = &sink.wait_for("/b", 1, WAIT).await[0];
    assert_eq!(call.header("authorization"), Some("Bearer b-token"));
    assert_eq!(call.header("x-api-key"), Some("v"));
    create("u", json!(["basic"])).await;
    assert_eq!(
        sink.wait_for("/u", 1, WAIT).await[0].header("authorization"),
        Some("Basic dTpw")
    );

    // One token for every call that needs it, fetched once.
    create("o1", json!(["oauth"])).await;
    create("o2", json!(["oauth"])).await;
    for path in ["/o1", "/o2"] {
        assert_eq!(
            sink.wait_for(path, 1, WAIT).await[0].header("authorization"),
            Some("Bearer oauth-1")
        );
    }
    let fetches = sink.calls("/token");
    assert_eq!(fetches.len(), 1);
    let form = String::from_utf8_lossy(&fetches[0].body).to_string();
    assert!(
        form.contains("grant_type=client_credentials") && form.contains("scope=calls"),
        "{form}"
    );
    assert_eq!(
        fetches[0].header("authorization"),
        Some("Basic Y2lkOmNzZWNyZXQ=")
    );

    // A 401 from the target drops the token: a fresh one is fetched and the call made again.
    sink.script_answer(
        "/token",
        200,
        r#"{"access_token": "oauth-2", "expires_in": 3600}"#,
        Duration::ZERO,
    );
    sink.script("/o3", &[401]);
    create("o3", json!(["oauth"])).await;
    let calls = sink.wait_for("/o3", 2, WAIT).await;
    assert_eq!(calls[1].header("authorization"), Some("Bearer oauth-2"));
    assert_eq!(sink.calls("/token").len(), 2);
    let log = eventually(WAIT, "the attempt logged", || async {
        let items = o.executions("pre", "o3").await?;
        (!items.is_empty()).then_some(items)
    })
    .await;
    assert_eq!(log.len(), 1, "one attempt: {log:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_endpoint_that_fails_is_the_attempts_error_and_retried() {
    let nats = NatsServer::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    let sink = Sink::start().await;
    sink.script("/token", &[503]);
    sink.script_answer(
        "/token",
        200,
        r#"{"access_token": "late", "expires_in": 60}"#,
        Duration::ZERO,
    );
    let body = json!({"kind": "oauth2", "token_url": sink.url("/token"), "client_id": "c", "client_secret": "s"});
    send(
        &o,
        Method::PUT,
        "/v1/namespaces/pre/prerequisites/o",
        None,
        Some(body),
    )
    .await;
    let body = json!({"schedule": {"after": "10ms"}, "retry": {"max_attempts": 3, "initial_interval": "100ms"},
        "target": {"http": {"url": sink.url("/t"), "prerequisites": ["o"]}}});
    let (status, b, _) = send(
        &o,
        Method::PUT,
        "/v1/namespaces/pre/timers/t",
        None,
        Some(body),
    )
    .await;
    assert!(status.is_success(), "{b}");
    assert_eq!(
        sink.wait_for("/t", 1, WAIT).await[0].header("authorization"),
        Some("Bearer late")
    );
    let first = eventually(WAIT, "the first attempt logged", || async {
        o.executions("pre", "t")
            .await?
            .iter()
            .find(|a| a["attempt"] == 1)
            .cloned()
    })
    .await;
    assert_eq!(first["outcome"], "retrying");
    let error = first["error"].as_str().unwrap();
    assert!(
        error.contains("token endpoint") && error.contains("503"),
        "{error}"
    );
    assert!(!error.contains("\"s\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_target_guard_refuses_internal_addresses() {
    let nats = NatsServer::start().await;
    let config = ontime_gateway::GatewayConfig {
        guard: TargetGuard::strict(),
        ..gateway_config()
    };
    let mut o = Ontime::start_with(&nats.url(), 1, 0, config).await;
    o.worker_config.guard = TargetGuard::strict();
    o.add(ontime_testkit::Part::Worker).await;
    let sink = Sink::start().await;

    // A literal internal address is refused at the door.
    for url in [
        "http://127.0.0.1:9/x",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data",
        "http://10.1.2.3/",
        "http://2130706433/",
    ] {
        let (status, body, _) = send(
            &o,
            Method::PUT,
            "/v1/namespaces/g/timers/lit",
            None,
            Some(timer(url)),
        )
        .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("target.http.url")),
            "{url}: {body}"
        );
    }
    let (status, _, _) = send(&o, Method::PUT, "/v1/namespaces/g/prerequisites/o", None,
        Some(json!({"kind": "oauth2", "token_url": "http://127.0.0.1/token", "client_id": "c", "client_secret": "s"}))).await;
    assert_eq!(status, 422, "a token endpoint is a target too");

    // A name is resolved by the worker, which refuses what it resolves to: a final attempt.
    let named = sink.url("/named").replace("127.0.0.1", "localhost");
    let body = json!({"schedule": {"after": "10ms"}, "retry": {"max_attempts": 5},
        "target": {"http": {"url": named}}});
    let (status, b, _) = send(
        &o,
        Method::PUT,
        "/v1/namespaces/g/timers/n",
        None,
        Some(body),
    )
    .await;
    assert!(status.is_success(), "{b}");
    let attempt = eventually(WAIT, "the refused attempt", || async {
        o.executions("g", "n").await?.first().cloned()
    })
    .await;
    assert_eq!(attempt["outcome"], "failed", "{attempt}");
    let error = attempt["error"].as_str().unwrap();
    assert!(
        error.contains("target guard") && error.contains("loopback"),
        "{error}"
    );
    assert!(sink.calls("/named").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_an_answer_never_followed() {
    let nats = NatsServer::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    let elsewhere = Sink::start().await;
    // A target that sends its callers on to another address.
    let location = elsewhere.url("/meta");
    let redirecting = axum::Router::new().fallback(move || {
        let location = location.clone();
        async move {
            (
                axum::http::StatusCode::FOUND,
                [(axum::http::header::LOCATION, location)],
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/r", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, redirecting).await });
    let body = json!({"schedule": {"after": "10ms"}, "target": {"http": {"url": url}}});
    send(
        &o,
        Method::PUT,
        "/v1/namespaces/g/timers/r",
        None,
        Some(body),
    )
    .await;
    let attempt = eventually(WAIT, "the attempt", || async {
        o.executions("g", "r").await?.first().cloned()
    })
    .await;
    assert_eq!(attempt["status_code"], 302, "{attempt}");
    assert!(elsewhere.all_calls().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_headers_reach_the_target_and_need_a_key() {
    let nats = NatsServer::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    let sink = Sink::start().await;
    let body = json!({"schedule": {"after": "10ms"}, "target": {"http": {"url": sink.url("/s"),
        "secret_headers": {"Authorization": "Bearer s3cret"}}}});
    let (status, b, _) = send(
        &o,
        Method::PUT,
        "/v1/namespaces/sec/timers/s",
        None,
        Some(body.clone()),
    )
    .await;
    assert!(status.is_success(), "{b}");
    assert_eq!(
        sink.wait_for("/s", 1, WAIT).await[0].header("authorization"),
        Some("Bearer s3cret")
    );
    let (_, log, _) = send(
        &o,
        Method::GET,
        "/v1/namespaces/sec/timers/s/executions",
        None,
        None,
    )
    .await;
    assert!(!log.to_string().contains("s3cret"));

    // A subscriber's secret headers too.
    send(
        &o,
        Method::PUT,
        "/v1/namespaces/sec/topics/t",
        None,
        Some(json!({})),
    )
    .await;
    let (status, shown, _) = send(&o, Method::PUT, "/v1/namespaces/sec/topics/t/subscribers/a", None,
        Some(json!({"target": {"http": {"url": sink.url("/sub"), "secret_headers": {"X-Key": "sub-s3cret"}}}}))).await;
    assert_eq!(status, 201, "{shown}");
    assert_eq!(
        shown["target"]["http"]["secret_headers"]["X-Key"],
        "********"
    );
    send(
        &o,
        Method::PUT,
        "/v1/namespaces/sec/timers/f",
        None,
        Some(json!({"schedule": {"after": "10ms"}, "target": {"topic": "t"}})),
    )
    .await;
    assert_eq!(
        sink.wait_for("/sub", 1, WAIT).await[0].header("x-key"),
        Some("sub-s3cret")
    );

    // A gateway without a key refuses to take a secret.
    let keyless = ontime_gateway::GatewayConfig {
        secret_key: None,
        ..gateway_config()
    };
    let o2 = Ontime::start_with(&nats.url(), 0, 0, keyless).await;
    let (status, b, _) = send(
        &o2,
        Method::PUT,
        "/v1/namespaces/sec/timers/k",
        None,
        Some(body),
    )
    .await;
    assert_eq!(
        (status, b["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("target.http.secret_headers")
        ),
        "{b}"
    );
}
