//! The request guards every route passes: the API key (constant-time comparison of
//! the bearer token, on the writes or on everything), the body size limit (413 before
//! the body is read), and the `Host` header check that keeps DNS rebinding away from
//! a server on a loopback address.

use crate::error::ApiError;
use crate::Protect;
use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use subtle::ConstantTimeEq;

pub(crate) struct Auth {
    pub(crate) key: Option<Vec<u8>>,
    pub(crate) protect: Protect,
}

pub(crate) async fn check_key(State(auth): State<Arc<Auth>>, req: Request, next: Next) -> Response {
    let Some(key) = &auth.key else {
        return next.run(req).await;
    };
    let path = req.uri().path();
    let needed = match auth.protect {
        // The page and its assets hold no data; the page asks for the key itself.
        Protect::All => path != "/health" && path != "/" && !path.starts_with("/assets/"),
        Protect::Writes => {
            path.starts_with("/documents") && !matches!(*req.method(), Method::GET | Method::HEAD)
        }
    };
    if !needed {
        return next.run(req).await;
    }
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    match given {
        None => ApiError::unauthorized("this route needs an API key: Authorization: Bearer KEY")
            .into_response(),
        Some(t) if bool::from(t.as_bytes().ct_eq(key)) => next.run(req).await,
        Some(_) => ApiError::unauthorized("wrong API key").into_response(),
    }
}

/// The token of an `Authorization: Bearer TOKEN` value; the scheme is case-insensitive
/// (RFC 7235), so `bearer` and `BEARER` are the same.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start())
}

/// Refuses a body whose declared length is over the limit before reading any of it
/// (bodies without a length are cut off at the limit while being read).
pub(crate) async fn refuse_oversized(
    State(limit): State<usize>,
    req: Request,
    next: Next,
) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > limit as u64 => {
            ApiError::too_large(format!("the request body has {n} bytes; at most {limit}"))
                .into_response()
        }
        _ => next.run(req).await,
    }
}

/// Which `Host` values are answered: the guard against DNS rebinding, where a page on
/// another origin points its own name at 127.0.0.1 and talks to the service with the
/// browser's help. Such requests carry the attacker's name in `Host`.
#[derive(Debug)]
pub(crate) struct Hosts {
    /// Normalised names from `--allowed-hosts`; a leading `.` also allows subdomains.
    allowed: Option<Vec<String>>,
    /// Whether the listener is on a loopback address.
    loopback_bind: bool,
}

impl Hosts {
    pub(crate) fn new(allowed: Option<&[String]>, loopback_bind: bool) -> Self {
        let allowed = allowed.map(|names| {
            names
                .iter()
                .map(|n| match n.trim().strip_prefix('.') {
                    Some(domain) => format!(".{}", host_name(domain)),
                    None => host_name(n),
                })
                .filter(|n| !n.is_empty() && n != ".")
                .collect()
        });
        Self {
            allowed,
            loopback_bind,
        }
    }

    fn permits(&self, name: &str) -> bool {
        if is_loopback_name(name) {
            return true;
        }
        match &self.allowed {
            Some(names) => names.iter().any(|a| {
                a == "*"
                    || a == name
                    || a.strip_prefix('.').is_some_and(|domain| {
                        name == domain
                            || name
                                .strip_suffix(domain)
                                .is_some_and(|sub| sub.ends_with('.'))
                    })
            }),
            None => !self.loopback_bind,
        }
    }
}

/// The host of a `Host` value or authority: without its port and trailing dot,
/// lowercased; an IPv6 literal keeps its brackets (`[::1]`).
fn host_name(host: &str) -> String {
    let h = host.trim();
    let name = match h.strip_prefix('[') {
        Some(rest) => rest.find(']').map_or(h, |end| &h[..end + 2]),
        None => match h.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => h,
        },
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// `localhost` (and `*.localhost`, which browsers resolve to loopback themselves),
/// `127.0.0.0/8` and `[::1]`.
fn is_loopback_name(name: &str) -> bool {
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    if let Ok(ip) = name.parse::<std::net::Ipv4Addr>() {
        return ip.is_loopback();
    }
    name.strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .and_then(|n| n.parse::<std::net::Ipv6Addr>().ok())
        .is_some_and(|ip| {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        })
}

/// Answers `421 Misdirected Request` to a request whose `Host` header (or absolute
/// request target) names a host this server does not answer for. A request without
/// either (HTTP/1.0) is answered: browsers always send `Host`.
pub(crate) async fn check_host(
    State(hosts): State<Arc<Hosts>>,
    req: Request,
    next: Next,
) -> Response {
    let header_host = match req.headers().get(header::HOST).map(|v| v.to_str()) {
        Some(Ok(h)) => Some(h),
        Some(Err(_)) => {
            return ApiError::host_not_allowed("the Host header is not readable text")
                .into_response()
        }
        None => None,
    };
    let uri_host = req.uri().authority().map(|a| a.as_str());
    for host in header_host.into_iter().chain(uri_host) {
        let name = host_name(host);
        if !hosts.permits(&name) {
            return ApiError::host_not_allowed(format!(
                "this server does not answer for host {name:?} \
                 (a name it should answer to is allowed with concord serve --allowed-hosts)"
            ))
            .into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_lose_port_case_and_trailing_dot() {
        assert_eq!(host_name("LocalHost:8080"), "localhost");
        assert_eq!(host_name("localhost."), "localhost");
        assert_eq!(host_name("[::1]:80"), "[::1]");
        assert_eq!(host_name("127.0.0.1"), "127.0.0.1");
        assert_eq!(host_name("a.example:x"), "a.example:x");
    }

    #[test]
    fn a_loopback_bind_answers_loopback_names_only() {
        let h = Hosts::new(None, true);
        for ok in [
            "localhost",
            "app.localhost",
            "127.0.0.1",
            "127.9.8.7",
            "[::1]",
        ] {
            assert!(h.permits(ok), "{ok}");
        }
        for bad in [
            "attacker.example",
            "localhost.attacker.example",
            "127.0.0.1.nip.io",
            "10.0.0.1",
            "[::2]",
            "",
        ] {
            assert!(!h.permits(bad), "{bad}");
        }
        assert!(Hosts::new(None, false).permits("attacker.example"));
    }

    #[test]
    fn allowed_hosts_add_names_domains_or_everything() {
        let names = ["Search.Example:8080".to_string(), ".corp.example".into()];
        let h = Hosts::new(Some(&names), false);
        assert!(h.permits("search.example"));
        assert!(h.permits("corp.example") && h.permits("a.b.corp.example"));
        assert!(!h.permits("evilcorp.example") && !h.permits("other.example"));
        assert!(h.permits("localhost") && h.permits("127.0.0.1"));
        assert!(Hosts::new(Some(&["*".to_string()]), true).permits("anything.example"));
    }
}
