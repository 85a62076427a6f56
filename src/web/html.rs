//! The page frame (navigation, embedded CSS, refresh) and small HTML helpers. Every
//! value from Redis goes through `esc`.

use super::AppState;
use axum::response::Html;
use serde_json::Value;

const CSS: &str = include_str!("style.css");

/// HTML-escapes text for element content and quoted attributes.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// Percent-encodes a path segment or query value.
pub fn url(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// A JSON field as display text ("" when absent or null).
pub fn s(v: &Value, k: &str) -> String {
    match &v[k] {
        Value::Null => String::new(),
        Value::String(x) => x.clone(),
        other => other.to_string(),
    }
}

/// A whole page: `nav` names the current section; `refresh` reloads every N seconds.
pub fn page(
    app: &AppState,
    title: &str,
    nav: &str,
    refresh: Option<u32>,
    body: &str,
) -> Html<String> {
    let link = |href: &str, name: &str, key: &str| {
        format!(
            "<a href=\"{href}\"{}>{name}</a>",
            if key == nav { " class=\"on\"" } else { "" }
        )
    };
    let refresh = refresh
        .map(|n| format!("<meta http-equiv=\"refresh\" content=\"{n}\">"))
        .unwrap_or_default();
    let mode = if app.opts.allow_actions {
        "actions allowed"
    } else {
        "read-only"
    };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{refresh}\
<title>{} · ciq</title><style>{CSS}</style></head><body>\
<header><b>ciq</b>{}{}{}<span class=\"ro\">{mode}</span></header><main>{body}</main></body></html>",
        esc(title),
        link("/", "Overview", "overview"),
        link("/workers", "Workers", "workers"),
        link("/beat", "Beat", "beat"),
    ))
}

/// An error page with the HTTP status.
pub fn error_page(app: &AppState, code: u16, msg: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    let code = axum::http::StatusCode::from_u16(code)
        .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    (
        code,
        page(
            app,
            "error",
            "",
            None,
            &format!(
                "<div class=\"card\"><p class=\"critical\">{}</p></div>",
                esc(msg)
            ),
        ),
    )
        .into_response()
}

/// A form button that leads to the confirm step of an action (only with
/// `--allow-actions`; empty otherwise).
pub fn action_button(app: &AppState, label: &str, params: &[(&str, &str)]) -> String {
    if !app.opts.allow_actions {
        return String::new();
    }
    let q: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", url(v)))
        .collect();
    format!(
        "<a class=\"action\" href=\"/actions/confirm?{}\"><button type=\"button\">{}</button></a>",
        esc(&q.join("&")),
        esc(label)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_values_is_escaped() {
        assert_eq!(
            esc("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
        assert_eq!(url("start_test:42 x"), "start_test%3A42%20x");
    }
}
