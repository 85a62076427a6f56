//! The login gate, Jupyter-style: `?token=…` once (sets an HttpOnly, SameSite=Strict
//! cookie and redirects to the clean URL), then the cookie; scripts send
//! `Authorization: Bearer …`. Anything else gets 401, pages and API alike.

use super::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub const COOKIE: &str = "ciq_token";

/// How a request proved itself: a cookie session must also carry the CSRF token on POST;
/// a bearer header cannot be sent by another site's form, so it need not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthBy {
    Cookie,
    Bearer,
}

/// Compares in time independent of where the first difference is.
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A token may be printed in a URL as it is: letters, digits and `-._~`.
pub fn valid_token(t: &str) -> Result<(), String> {
    if t.len() < 16 {
        return Err("the token must be at least 16 characters".into());
    }
    if !t
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'))
    {
        return Err("the token may hold only letters, digits and - . _ ~".into());
    }
    Ok(())
}

fn query_token(query: Option<&str>) -> Option<&str> {
    query?.split('&').find_map(|p| p.strip_prefix("token="))
}

/// The query string without its `token` parameter.
fn query_without_token(query: &str) -> String {
    query
        .split('&')
        .filter(|p| !p.starts_with("token=") && !p.is_empty())
        .collect::<Vec<_>>()
        .join("&")
}

pub fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

pub async fn gate(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let token = app.opts.token.as_str();
    let uri = req.uri().clone();
    if let Some(t) = query_token(uri.query()) {
        if !same(t, token) {
            return unauthorized();
        }
        let path = uri.path();
        if !path.starts_with("/api/") {
            // First visit: remember the token in a cookie, then show the clean URL.
            let rest = query_without_token(uri.query().unwrap_or(""));
            let to = if rest.is_empty() {
                path.to_string()
            } else {
                format!("{path}?{rest}")
            };
            return (
                StatusCode::SEE_OTHER,
                [
                    (
                        header::SET_COOKIE,
                        format!(
                            "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/{}",
                            if app.opts.tls.is_some() {
                                "; Secure"
                            } else {
                                ""
                            }
                        ),
                    ),
                    (header::LOCATION, to),
                ],
            )
                .into_response();
        }
        req.extensions_mut().insert(AuthBy::Bearer);
        return next.run(req).await;
    }
    let by = if bearer_token(req.headers()).is_some_and(|t| same(t, token)) {
        AuthBy::Bearer
    } else if cookie_token(req.headers()).is_some_and(|t| same(t, token)) {
        AuthBy::Cookie
    } else {
        return unauthorized();
    };
    req.extensions_mut().insert(by);
    next.run(req).await
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "401 unauthorized: open the URL `ciq web` printed (it carries ?token=...), or send Authorization: Bearer TOKEN\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison_needs_an_exact_match() {
        assert!(same("abcdef", "abcdef"));
        assert!(!same("abcdef", "abcdeg"));
        assert!(!same("abc", "abcdef"));
    }

    #[test]
    fn the_token_parameter_is_dropped_from_the_redirect() {
        assert_eq!(query_without_token("token=x&state=dead"), "state=dead");
        assert_eq!(query_without_token("token=x"), "");
        assert_eq!(query_token(Some("a=1&token=t")), Some("t"));
    }

    #[test]
    fn tokens_must_be_url_safe_and_long() {
        assert!(valid_token("0123456789abcdef").is_ok());
        assert!(valid_token("short").is_err());
        assert!(valid_token("0123456789abcdef&x=1").is_err());
    }
}
