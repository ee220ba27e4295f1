//! OAuth2 client credentials (RFC 6749 4.4) for the calls whose target has such a
//! prerequisite: the access token is fetched from the token endpoint, kept until shortly
//! before it expires, and shared by every call that needs it (many calls due at once make
//! one request to the endpoint). A target answering 401 makes the caller
//! [`TokenCache::invalidate`] the token it sent, so the next attempt fetches a new one; a
//! failing token endpoint is the attempt's error, retried by the attempt's own policy.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

pub use ontime_core::trust::prerequisite::ClientAuth;

/// How long a request to the token endpoint may take, its answer included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of the endpoint's answer is read: a token answer is a few KiB at most, and an
/// endpoint that sends more is not given our memory.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// How much of an error answer goes into the attempt's log.
const MAX_ERROR_CHARS: usize = 200;
/// How long a token whose answer says nothing of its life is reused: short enough that a
/// server with short-lived tokens and no `expires_in` sees few calls refused (each is retried
/// with a new token after the 401 anyway), long enough to spare the endpoint a request per
/// call.
const DEFAULT_REUSE: Duration = Duration::from_secs(5 * 60);
/// A token is dropped this long before it expires at most, so that a call made with it
/// does not reach its target after it expired (clocks and transit included).
const MAX_MARGIN: Duration = Duration::from_secs(60);
/// The longest a token is reused, whatever its `expires_in` says (which also keeps an absurd
/// value from overflowing the clock).
const MAX_REUSE: Duration = Duration::from_secs(24 * 3600);

/// What a call needs to get a token: the prerequisite's fields, its secret already opened.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClientCredentials {
    pub token_url: String,
    pub client_id: String,
    /// In plaintext: the caller opened it.
    pub client_secret: String,
    pub scope: Option<String>,
    pub audience: Option<String>,
    pub auth: ClientAuth,
}

/// Everything but the secret, so that credentials can be logged.
impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("scope", &self.scope)
            .field("audience", &self.audience)
            .field("auth", &self.auth)
            .finish()
    }
}

/// Why no token could be had. Each message is written for the log of the attempt that
/// needed the token, and never contains the client secret or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token endpoint {url} cannot be called: {detail}")]
    BadRequest { url: String, detail: String },
    #[error("token endpoint {url} unreachable: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("token endpoint {url} did not answer within {}s", REQUEST_TIMEOUT.as_secs())]
    Timeout { url: String },
    #[error("token endpoint {url} answered HTTP {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("token endpoint {url}'s answer is not a JSON object")]
    NotJson { url: String },
    #[error("token endpoint {url}'s answer has no access_token")]
    NoAccessToken { url: String },
}

/// The tokens of the client credentials in use, shared by the calls of a worker. Cloning it
/// gives another handle on the same tokens.
#[derive(Clone)]
pub struct TokenCache {
    inner: Arc<Inner>,
}

/// Reads the time; a parameter so that tests can move it.
type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

struct Inner {
    http: reqwest::Client,
    clock: Clock,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

/// The token of one key, and the lock that makes its fetches one at a time.
#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
    /// Held while a fetch is made: the calls that need the token meanwhile wait for it.
    flight: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct SlotState {
    token: Option<Cached>,
    /// Fetches completed so far.
    flights: u64,
    /// The last fetch's error and its number, given to the calls that waited for that fetch
    /// (so that an endpoint that is down costs them one request, not one each); a call that
    /// comes later tries again.
    failure: Option<(u64, TokenError)>,
}

struct Cached {
    token: String,
    fresh_until: Instant,
}

/// A token as the endpoint gave it.
struct Fetched {
    token: String,
    expires_in: Option<u64>,
}

impl TokenCache {
    /// A cache whose requests go through `http`: the worker's guarded client, so that the
    /// token endpoint is held to the same guard as the targets.
    pub fn new(http: reqwest::Client) -> Self {
        Self::with_clock(http, Arc::new(Instant::now))
    }

    fn with_clock(http: reqwest::Client, clock: Clock) -> Self {
        Self {
            inner: Arc::new(Inner {
                http,
                clock,
                slots: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// An access token for `creds`, from the cache while it is fresh. `key` names the
    /// version of the credentials (say `namespace/name/revision`): a changed prerequisite has
    /// a new key, so it never gets a token of the old one.
    pub async fn token(&self, key: &str, creds: &ClientCredentials) -> Result<String, TokenError> {
        let slot = self.slot(key);
        let seen = match slot.lookup(self.now()) {
            Lookup::Fresh(token) => return Ok(token),
            Lookup::Stale { flights } => flights,
        };
        let _flight = slot.flight.lock().await;
        if let Some(settled) = slot.settled_since(seen, self.now()) {
            return settled;
        }
        let started = self.now();
        let fetched = fetch(&self.inner.http, creds).await;
        slot.record(fetched, started)
    }

    /// Drops the token of `key` if it is still `token`: a target refused it, so the next call
    /// fetches a new one. A 401 to a call made with an older token leaves a newer one alone.
    pub fn invalidate(&self, key: &str, token: &str) {
        let slot = lock(&self.inner.slots).get(key).cloned();
        if let Some(slot) = slot {
            let mut state = lock(&slot.state);
            if state
                .token
                .as_ref()
                .is_some_and(|cached| cached.token == token)
            {
                state.token = None;
            }
        }
    }

    /// The slot of `key`, made if needed. Making one also forgets the slots nobody uses
    /// and whose token expired, so that the keys of past revisions do not pile up.
    fn slot(&self, key: &str) -> Arc<Slot> {
        let mut slots = lock(&self.inner.slots);
        if let Some(slot) = slots.get(key) {
            return slot.clone();
        }
        let now = self.now();
        slots.retain(|_, slot| Arc::strong_count(slot) > 1 || slot.has_fresh_token(now));
        let slot = Arc::new(Slot::default());
        slots.insert(key.to_owned(), slot.clone());
        slot
    }

    fn now(&self) -> Instant {
        (self.inner.clock)()
    }
}

enum Lookup {
    Fresh(String),
    /// No fresh token; `flights` fetches were completed when it was looked up.
    Stale {
        flights: u64,
    },
}

impl Slot {
    fn lookup(&self, now: Instant) -> Lookup {
        let state = lock(&self.state);
        match fresh(&state, now) {
            Some(token) => Lookup::Fresh(token),
            None => Lookup::Stale {
                flights: state.flights,
            },
        }
    }

    /// What a fetch completed since the caller looked (`seen` fetches then) came to: the
    /// token it got, or its error. `None` when the caller has to fetch.
    fn settled_since(&self, seen: u64, now: Instant) -> Option<Result<String, TokenError>> {
        let state = lock(&self.state);
        if let Some(token) = fresh(&state, now) {
            return Some(Ok(token));
        }
        match &state.failure {
            Some((flight, error)) if *flight > seen => Some(Err(error.clone())),
            _ => None,
        }
    }

    /// Keeps what the fetch started at `started` came to, and returns it.
    fn record(
        &self,
        fetched: Result<Fetched, TokenError>,
        started: Instant,
    ) -> Result<String, TokenError> {
        let mut state = lock(&self.state);
        state.flights += 1;
        match fetched {
            Ok(fetched) => {
                let fresh_until = started
                    .checked_add(reuse_for(fetched.expires_in))
                    .unwrap_or(started);
                state.token = Some(Cached {
                    token: fetched.token.clone(),
                    fresh_until,
                });
                state.failure = None;
                Ok(fetched.token)
            }
            Err(error) => {
                state.failure = Some((state.flights, error.clone()));
                Err(error)
            }
        }
    }

    fn has_fresh_token(&self, now: Instant) -> bool {
        fresh(&lock(&self.state), now).is_some()
    }
}

fn fresh(state: &SlotState, now: Instant) -> Option<String> {
    state
        .token
        .as_ref()
        .filter(|cached| now < cached.fresh_until)
        .map(|cached| cached.token.clone())
}

/// How long a token that lives `expires_in` seconds is reused, counted from when it was
/// asked for: its life less the smaller of 60 s and a tenth of it (a token of 1 hour is
/// reused 59 minutes, one of 30 s for 27 s), at most a day; [`DEFAULT_REUSE`] when its life
/// is not told.
fn reuse_for(expires_in: Option<u64>) -> Duration {
    let Some(seconds) = expires_in else {
        return DEFAULT_REUSE;
    };
    let life = Duration::from_secs(seconds).min(MAX_REUSE);
    life - (life / 10).min(MAX_MARGIN)
}

/// The mutex's data even if a thread panicked holding it: every change to it is a single
/// assignment, so it is never left half-changed.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Asks the token endpoint for a token.
async fn fetch(http: &reqwest::Client, creds: &ClientCredentials) -> Result<Fetched, TokenError> {
    let url = shown_url(&creds.token_url);
    let response = request(http, creds)
        .send()
        .await
        .map_err(|e| transport_error(&url, e))?;
    let status = response.status();
    let body = read_answer(response)
        .await
        .map_err(|e| transport_error(&url, e))?;
    if !status.is_success() {
        return Err(TokenError::Status {
            url,
            status: status.as_u16(),
            body: excerpt(&body, &creds.client_secret),
        });
    }
    parse_answer(url, &body)
}

/// The client credentials grant: a form with `grant_type=client_credentials` (and `scope`,
/// `audience` when set), the client authenticated per [`ClientAuth`].
fn request(http: &reqwest::Client, creds: &ClientCredentials) -> reqwest::RequestBuilder {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = &creds.scope {
        form.push(("scope", scope));
    }
    if let Some(audience) = &creds.audience {
        form.push(("audience", audience));
    }
    let request = http
        .post(&creds.token_url)
        .timeout(REQUEST_TIMEOUT)
        .header(reqwest::header::ACCEPT, "application/json");
    let request = match creds.auth {
        // RFC 6749 2.3.1: id and secret are form-urlencoded before they are joined by ':',
        // so that an id with a ':' in it cannot be misread.
        ClientAuth::Basic => request.basic_auth(
            form_encoded(&creds.client_id),
            Some(form_encoded(&creds.client_secret)),
        ),
        ClientAuth::Body => {
            form.push(("client_id", &creds.client_id));
            form.push(("client_secret", &creds.client_secret));
            request
        }
    };
    request.form(&form)
}

fn form_encoded(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Up to [`MAX_ANSWER_BYTES`] of the answer's body.
async fn read_answer(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while body.len() < MAX_ANSWER_BYTES {
        match response.chunk().await? {
            Some(chunk) => body.extend_from_slice(&chunk),
            None => break,
        }
    }
    body.truncate(MAX_ANSWER_BYTES);
    Ok(body)
}

/// Reads an answer of RFC 6749 5.1. `token_type` is not checked: the token is sent as
/// `Bearer` whatever the endpoint calls it (some say `bearer`, some `Bearer`, a few
/// something else of the same meaning), and a target that disagrees answers 401.
/// The body is read as a JSON value, not into a struct, so that no parse error can quote
/// a piece of it (the token) into the log.
fn parse_answer(url: String, body: &[u8]) -> Result<Fetched, TokenError> {
    let Ok(serde_json::Value::Object(answer)) = serde_json::from_slice(body) else {
        return Err(TokenError::NotJson { url });
    };
    let token = match answer.get("access_token") {
        Some(serde_json::Value::String(token)) if !token.is_empty() => token.clone(),
        _ => return Err(TokenError::NoAccessToken { url }),
    };
    Ok(Fetched {
        token,
        expires_in: answer.get("expires_in").and_then(seconds),
    })
}

/// `expires_in` as a number of seconds, or as a string of one (as some servers send it);
/// anything else is as if it were not there.
fn seconds(value: &serde_json::Value) -> Option<u64> {
    match value {
        serde_json::Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f as u64)
        }),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The start of an error answer for the log, on one line, the client secret masked should
/// the endpoint echo it.
fn excerpt(body: &[u8], client_secret: &str) -> String {
    let mut text = String::from_utf8_lossy(body).into_owned();
    if !client_secret.is_empty() {
        text = text.replace(client_secret, "***");
    }
    let text = text.trim();
    let mut shown: String = text
        .chars()
        .take(MAX_ERROR_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().nth(MAX_ERROR_CHARS).is_some() {
        shown.push('…');
    }
    shown
}

/// The token URL as the log shows it: a password in it masked.
fn shown_url(token_url: &str) -> String {
    match url::Url::parse(token_url) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => token_url.to_owned(),
    }
}

/// A failed request as the log shows it: what failed, down to its cause (the URL is in the
/// message already, and reqwest's own copy of it could hold a password).
fn transport_error(url: &str, error: reqwest::Error) -> TokenError {
    let url = url.to_owned();
    if error.is_timeout() {
        return TokenError::Timeout { url };
    }
    let builder = error.is_builder();
    let detail = causes(&error.without_url());
    if builder {
        TokenError::BadRequest { url, detail }
    } else {
        TokenError::Unreachable { url, detail }
    }
}

/// An error and its sources, joined by `: `.
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::extract::{Form, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use base64::Engine as _;
    use serde_json::json;

    /// A token endpoint that counts its requests, keeps the last one and answers
    /// `token-<n>` for the n-th, or the failure it is told to.
    #[derive(Default)]
    struct Endpoint {
        requests: AtomicUsize,
        last: Mutex<Option<Seen>>,
        /// Added to each answer (`expires_in`, or `access_token: null`).
        extra: Mutex<serde_json::Map<String, serde_json::Value>>,
        failure: Mutex<Option<(StatusCode, String)>>,
    }

    #[derive(Debug, Clone)]
    struct Seen {
        authorization: Option<String>,
        accept: Option<String>,
        form: HashMap<String, String>,
    }

    impl Endpoint {
        fn requests(&self) -> usize {
            self.requests.load(Ordering::SeqCst)
        }

        fn last(&self) -> Seen {
            lock(&self.last).clone().unwrap()
        }

        fn answer_with(&self, extra: serde_json::Value) {
            *lock(&self.extra) = extra.as_object().unwrap().clone();
        }

        fn fail_with(&self, failure: Option<(StatusCode, &str)>) {
            *lock(&self.failure) = failure.map(|(s, body)| (s, body.to_owned()));
        }
    }

    async fn answer(
        State(endpoint): State<Arc<Endpoint>>,
        headers: HeaderMap,
        Form(form): Form<HashMap<String, String>>,
    ) -> Response {
        let n = endpoint.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
        *lock(&endpoint.last) = Some(Seen {
            authorization: header("authorization"),
            accept: header("accept"),
            form,
        });
        // Long enough for the calls made at once to meet here.
        tokio::time::sleep(Duration::from_millis(20)).await;
        if let Some((status, body)) = lock(&endpoint.failure).clone() {
            return (status, body).into_response();
        }
        let mut body = serde_json::Map::new();
        body.insert("access_token".into(), json!(format!("token-{n}")));
        body.insert("token_type".into(), json!("Bearer"));
        body.extend(lock(&endpoint.extra).clone());
        axum::Json(body).into_response()
    }

    /// Serves `endpoint` on 127.0.0.1; its token URL.
    async fn serve(endpoint: Arc<Endpoint>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .route("/token", axum::routing::post(answer))
            .with_state(endpoint);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{address}/token")
    }

    fn creds(token_url: &str) -> ClientCredentials {
        ClientCredentials {
            token_url: token_url.to_owned(),
            client_id: "ontime".into(),
            client_secret: "s3cret-value".into(),
            scope: None,
            audience: None,
            auth: ClientAuth::Basic,
        }
    }

    /// A clock that moves only when told.
    #[derive(Clone)]
    struct TestClock {
        start: Instant,
        elapsed: Arc<Mutex<Duration>>,
    }

    impl TestClock {
        fn new() -> Self {
            Self {
                start: Instant::now(),
                elapsed: Arc::default(),
            }
        }

        fn advance(&self, by: Duration) {
            *lock(&self.elapsed) += by;
        }

        fn cache(&self) -> TokenCache {
            let clock = self.clone();
            TokenCache::with_clock(
                reqwest::Client::new(),
                Arc::new(move || clock.start + *lock(&clock.elapsed)),
            )
        }
    }

    async fn setup() -> (Arc<Endpoint>, ClientCredentials, TestClock, TokenCache) {
        let endpoint = Arc::new(Endpoint::default());
        let creds = creds(&serve(endpoint.clone()).await);
        let clock = TestClock::new();
        let cache = clock.cache();
        (endpoint, creds, clock, cache)
    }

    #[tokio::test]
    async fn calls_made_at_once_share_one_request() {
        let (endpoint, creds, _, cache) = setup().await;
        let calls = (0..20).map(|_| cache.token("ns/p/1", &creds));
        let tokens = futures::future::join_all(calls).await;
        for token in tokens {
            assert_eq!(token.unwrap(), "token-1");
        }
        assert_eq!(endpoint.requests(), 1);
        assert_eq!(
            cache.clone().token("ns/p/1", &creds).await.unwrap(),
            "token-1"
        );
        assert_eq!(endpoint.requests(), 1, "a fresh token is reused");
    }

    #[tokio::test]
    async fn basic_auth_sends_the_credentials_in_the_header() {
        let (endpoint, mut creds, _, cache) = setup().await;
        creds.client_id = "app:1".into();
        creds.scope = Some("read write".into());
        creds.audience = Some("https://api.test".into());
        cache.token("k", &creds).await.unwrap();
        let seen = endpoint.last();
        let expected = base64::engine::general_purpose::STANDARD.encode("app%3A1:s3cret-value");
        assert_eq!(seen.authorization, Some(format!("Basic {expected}")));
        assert_eq!(seen.accept.as_deref(), Some("application/json"));
        let form: HashMap<String, String> = [
            ("grant_type", "client_credentials"),
            ("scope", "read write"),
            ("audience", "https://api.test"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(seen.form, form);
    }

    #[tokio::test]
    async fn body_auth_sends_the_credentials_in_the_form() {
        let (endpoint, mut creds, _, cache) = setup().await;
        creds.auth = ClientAuth::Body;
        cache.token("k", &creds).await.unwrap();
        let seen = endpoint.last();
        assert_eq!(seen.authorization, None);
        assert_eq!(seen.form.get("grant_type").unwrap(), "client_credentials");
        assert_eq!(seen.form.get("client_id").unwrap(), "ontime");
        assert_eq!(seen.form.get("client_secret").unwrap(), "s3cret-value");
        assert!(!seen.form.contains_key("scope"));
    }

    #[tokio::test]
    async fn a_token_is_fetched_again_shortly_before_it_expires() {
        let (endpoint, creds, clock, cache) = setup().await;
        // 100 s of life: reused 90 s.
        endpoint.answer_with(json!({"expires_in": 100}));
        assert_eq!(cache.token("k", &creds).await.unwrap(), "token-1");
        clock.advance(Duration::from_secs(89));
        assert_eq!(cache.token("k", &creds).await.unwrap(), "token-1");
        clock.advance(Duration::from_secs(2));
        assert_eq!(cache.token("k", &creds).await.unwrap(), "token-2");
        // As a string too.
        endpoint.answer_with(json!({"expires_in": "1"}));
        clock.advance(Duration::from_secs(91));
        assert_eq!(cache.token("k", &creds).await.unwrap(), "token-3");
        clock.advance(Duration::from_secs(1));
        assert_eq!(cache.token("k", &creds).await.unwrap(), "token-4");
        assert_eq!(endpoint.requests(), 4);
    }

    #[test]
    fn reuse_keeps_a_margin_before_expiry() {
        assert_eq!(reuse_for(None), Duration::from_secs(300));
        assert_eq!(reuse_for(Some(3600)), Duration::from_secs(3540));
        assert_eq!(reuse_for(Some(30)), Duration::from_secs(27));
        assert_eq!(reuse_for(Some(1)), Duration::from_millis(900));
        assert_eq!(reuse_for(Some(0)), Duration::ZERO);
        assert_eq!(reuse_for(Some(u64::MAX)), MAX_REUSE - MAX_MARGIN);
        assert_eq!(seconds(&json!(60)), Some(60));
        assert_eq!(seconds(&json!(" 60 ")), Some(60));
        assert_eq!(seconds(&json!(59.5)), Some(59));
        for unknown in [json!(-1), json!("soon"), json!(null), json!([1])] {
            assert_eq!(seconds(&unknown), None, "{unknown}");
        }
    }

    #[tokio::test]
    async fn an_invalidated_token_is_fetched_again_but_a_stale_invalidation_is_ignored() {
        let (endpoint, creds, _, cache) = setup().await;
        let first = cache.token("k", &creds).await.unwrap();
        cache.invalidate("k", &first);
        let second = cache.token("k", &creds).await.unwrap();
        assert_ne!(first, second);
        cache.invalidate("k", &first);
        cache.invalidate("unknown", &second);
        assert_eq!(cache.token("k", &creds).await.unwrap(), second);
        assert_eq!(endpoint.requests(), 2);
    }

    #[tokio::test]
    async fn a_failure_is_the_callers_error_and_the_next_call_tries_again() {
        let (endpoint, creds, _, cache) = setup().await;
        endpoint.fail_with(Some((StatusCode::INTERNAL_SERVER_ERROR, "boom")));
        let calls = (0..5).map(|_| cache.token("k", &creds));
        for result in futures::future::join_all(calls).await {
            let message = result.unwrap_err().to_string();
            assert_eq!(
                message,
                format!("token endpoint {} answered HTTP 500: boom", creds.token_url)
            );
        }
        assert_eq!(
            endpoint.requests(),
            1,
            "the calls that waited share the failure"
        );
        endpoint.fail_with(None);
        assert_eq!(cache.token("k", &creds).await.unwrap(), "token-2");
    }

    #[tokio::test]
    async fn changed_credentials_get_their_own_token() {
        let (endpoint, creds, _, cache) = setup().await;
        let old = cache.token("ns/p/1", &creds).await.unwrap();
        let new = cache.token("ns/p/2", &creds).await.unwrap();
        assert_ne!(old, new);
        assert_eq!(endpoint.requests(), 2);
    }

    #[tokio::test]
    async fn errors_name_the_endpoint_and_never_a_secret() {
        let (endpoint, creds, _, cache) = setup().await;
        let long = format!("bad client s3cret-value {}", "x".repeat(300));
        endpoint.fail_with(Some((StatusCode::UNAUTHORIZED, &long)));
        let message = cache.token("k", &creds).await.unwrap_err().to_string();
        assert!(
            message.contains("HTTP 401: bad client *** xxx"),
            "{message}"
        );
        assert!(!message.contains("s3cret-value"), "{message}");
        assert!(message.ends_with('…') && message.len() < 300, "{message}");

        endpoint.fail_with(None);
        endpoint.answer_with(json!({"access_token": null}));
        let error = cache.token("k", &creds).await.unwrap_err();
        assert_eq!(
            error,
            TokenError::NoAccessToken {
                url: creds.token_url.clone()
            }
        );
        assert!(error.to_string().ends_with("'s answer has no access_token"));
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_is_an_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let creds = creds(&format!("http://user:pw@{address}/token"));
        let cache = TokenCache::new(reqwest::Client::new());
        let message = cache.token("k", &creds).await.unwrap_err().to_string();
        assert!(
            message.starts_with(&format!(
                "token endpoint http://user:***@{address}/token unreachable: "
            )),
            "{message}"
        );
        assert!(!message.contains("user:pw"), "{message}");
    }

    #[test]
    fn debug_masks_the_client_secret() {
        let shown = format!("{:?}", creds("https://auth.test/token"));
        assert!(shown.contains("ontime") && shown.contains("***"), "{shown}");
        assert!(!shown.contains("s3cret-value"), "{shown}");
    }

    #[test]
    fn answers_are_read_without_quoting_them() {
        let url = || "u".to_owned();
        let parsed = parse_answer(url(), br#"{"access_token":"t","expires_in":"5"}"#).unwrap();
        assert_eq!((parsed.token.as_str(), parsed.expires_in), ("t", Some(5)));
        assert!(matches!(
            parse_answer(url(), b"<html>"),
            Err(TokenError::NotJson { .. })
        ));
        assert!(matches!(
            parse_answer(url(), b"[]"),
            Err(TokenError::NotJson { .. })
        ));
        for no_token in [
            &br#"{"access_token": 5}"#[..],
            br#"{"access_token": ""}"#,
            b"{}",
        ] {
            assert!(matches!(
                parse_answer(url(), no_token),
                Err(TokenError::NoAccessToken { .. })
            ));
        }
    }
}
