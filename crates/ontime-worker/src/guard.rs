//! The target guard ([`TargetGuard`]) where it counts: in the HTTP client, on the address
//! actually connected to. Checking a URL's host when a timer is created is not enough: a
//! name can resolve to an internal address (now, or only at call time: DNS rebinding) and a
//! public server can redirect to one. So the resolver hands the connector only the addresses
//! the guard permits, and redirects are never followed: a 3xx is the call's answer.

use std::error::Error;
use std::net::SocketAddr;
use std::sync::Arc;

use ontime_core::trust::guard::{Refusal, TargetGuard};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// A DNS resolver that keeps only the addresses the guard permits. Filtering the resolved
/// addresses themselves (rather than resolving once to check and again to connect) leaves no
/// window for a name to change its answer in between.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    guard: Arc<TargetGuard>,
}

/// A name whose every address is refused. The [`Refusal`] of the first one is its source, so
/// that [`refusal_of`] finds it through reqwest's error.
#[derive(Debug, thiserror::Error)]
#[error("{name} resolves only to addresses ontime may not call")]
struct AllRefused {
    name: String,
    #[source]
    refusal: Refusal,
}

impl GuardedResolver {
    pub fn new(guard: Arc<TargetGuard>) -> Self {
        Self { guard }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = Arc::clone(&self.guard);
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let permitted = permitted(&guard, name.as_str(), resolved)?;
            Ok(Box::new(permitted.into_iter()) as Addrs)
        })
    }
}

/// The addresses of `resolved` that `guard` permits, in their order. A name with some
/// addresses refused is still called on the others; one with all refused fails, naming the
/// first refused address and why.
fn permitted(
    guard: &TargetGuard,
    name: &str,
    resolved: impl IntoIterator<Item = SocketAddr>,
) -> Result<Vec<SocketAddr>, AllRefused> {
    let mut first_refusal = None;
    let mut permitted = Vec::new();
    for addr in resolved {
        match guard.check_ip(addr.ip()) {
            Ok(()) => permitted.push(addr),
            Err(refusal) => {
                first_refusal.get_or_insert(refusal);
            }
        }
    }
    match first_refusal {
        Some(refusal) if permitted.is_empty() => Err(AllRefused {
            name: name.to_owned(),
            refusal,
        }),
        _ => Ok(permitted),
    }
}

/// A client builder whose connections reach only what `guard` permits: the
/// [`GuardedResolver`] for names, and no redirect followed (a redirect is an answer, and a
/// hop to an address no check has seen would be the way around the guard).
///
/// What it does not cover, and the caller must:
/// - a URL whose host is an IP literal is never resolved, so the resolver never sees it:
///   call [`TargetGuard::check_url`] on every URL before sending it;
/// - names given to `ClientBuilder::resolve` bypass the resolver;
/// - through a proxy (reqwest uses `HTTP_PROXY` / `HTTPS_PROXY` unless told `no_proxy()`)
///   the resolver judges the proxy's address, and the proxy resolves the target: filtering
///   the targets is then the proxy's job.
pub fn client_builder(guard: Arc<TargetGuard>) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver::new(guard)))
        .redirect(reqwest::redirect::Policy::none())
}

/// The guard's refusal behind `error` (a `reqwest::Error`, say), if that is why it failed:
/// a refused call fails the same way every time, so the worker makes it a final attempt.
pub fn refusal_of(error: &(dyn Error + 'static)) -> Option<Refusal> {
    std::iter::successors(Some(error), |e| (*e).source())
        .find_map(|e| e.downcast_ref::<Refusal>())
        .cloned()
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::Router;
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    use axum::routing::get;

    use super::*;

    /// A server on `ip` (port chosen by the system) answering `GET /` with 200, or with a
    /// redirect to `redirect_to`, counting the requests it gets.
    struct Server {
        port: u16,
        hits: Arc<AtomicUsize>,
    }

    impl Server {
        async fn start(ip: &str, redirect_to: Option<String>) -> Self {
            let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let hits = Arc::new(AtomicUsize::new(0));
            let counted = Arc::clone(&hits);
            let app = Router::new().route(
                "/",
                get(move || {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let redirect_to = redirect_to.clone();
                    async move {
                        match redirect_to {
                            Some(location) => {
                                (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
                            }
                            None => "ok".into_response(),
                        }
                    }
                }),
            );
            tokio::spawn(async move { axum::serve(listener, app).await });
            Self { port, hits }
        }

        fn hits(&self) -> usize {
            self.hits.load(Ordering::SeqCst)
        }
    }

    fn client(guard: TargetGuard) -> reqwest::Client {
        client_builder(Arc::new(guard)).no_proxy().build().unwrap()
    }

    fn loopback_refusal(error: &reqwest::Error) -> Refusal {
        let refusal = refusal_of(error).unwrap_or_else(|| panic!("no refusal in {error:?}"));
        assert!(refusal.ip.is_loopback(), "{refusal}");
        assert_eq!(refusal.kind, "loopback address");
        refusal
    }

    #[tokio::test]
    async fn strict_refuses_a_name_that_resolves_to_loopback() {
        let server = Server::start("127.0.0.1", None).await;
        let error = client(TargetGuard::strict())
            .get(format!("http://localhost:{}/", server.port))
            .send()
            .await
            .unwrap_err();
        let refusal = loopback_refusal(&error);
        assert!(
            ["127.0.0.1", "::1"].contains(&refusal.ip.to_string().as_str()),
            "{refusal}"
        );
        assert_eq!(server.hits(), 0);
    }

    #[tokio::test]
    async fn loopback_allowed_reaches_the_server() {
        let server = Server::start("127.0.0.1", None).await;
        let response = client(TargetGuard::loopback())
            .get(format!("http://localhost:{}/", server.port))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(server.hits(), 1);
    }

    #[tokio::test]
    async fn a_redirect_is_never_followed() {
        // Linux routes the whole of 127.0.0.0/8 to the loopback interface.
        let forbidden = Server::start("127.0.0.2", None).await;
        let allowed = Server::start(
            "127.0.0.1",
            Some(format!("http://127.0.0.2:{}/", forbidden.port)),
        )
        .await;
        let guard = TargetGuard::allowing(["127.0.0.1/32".parse().unwrap()]);
        let response = client(guard)
            .get(format!("http://127.0.0.1:{}/", allowed.port))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302);
        assert_eq!(allowed.hits(), 1);
        assert_eq!(forbidden.hits(), 0, "the redirect was followed");
    }

    #[tokio::test]
    async fn a_name_that_does_not_resolve_fails_as_usual() {
        let error = client(TargetGuard::strict())
            .get("http://no-such-host.invalid/")
            .send()
            .await
            .unwrap_err();
        assert!(error.is_connect(), "{error:?}");
        assert_eq!(refusal_of(&error), None);
    }

    #[test]
    fn permitted_keeps_the_allowed_addresses_in_order() {
        let addrs: Vec<SocketAddr> = ["10.0.0.1:0", "8.8.8.8:0", "[::1]:0", "[2001:db8::1]:0"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        let kept = permitted(&TargetGuard::strict(), "mixed.test", addrs.clone()).unwrap();
        assert_eq!(kept, vec![addrs[1], addrs[3]]);
        let all = permitted(&TargetGuard::off(), "mixed.test", addrs.clone()).unwrap();
        assert_eq!(all, addrs);
    }

    #[test]
    fn permitted_fails_with_the_first_refusal_when_none_is_left() {
        let addrs: Vec<SocketAddr> = ["169.254.169.254:0", "127.0.0.1:0"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        let error = permitted(&TargetGuard::strict(), "metadata.test", addrs).unwrap_err();
        assert_eq!(
            error.to_string(),
            "metadata.test resolves only to addresses ontime may not call"
        );
        let refusal = refusal_of(&error).unwrap();
        assert_eq!(refusal.kind, "cloud metadata address");
        assert_eq!(refusal.ip, "169.254.169.254".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn refusal_of_finds_nothing_in_other_errors() {
        let error = std::io::Error::other("boom");
        assert_eq!(refusal_of(&error), None);
    }
}
