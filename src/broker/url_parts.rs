//! What Sentinel and Cluster broker URLs share: the credentials (`[user[:pass]@]rest`),
//! percent-decoded (`percent-encoding`: a password may hold `@`, `:` or `/` escaped), and
//! the list of hosts (`host[:port],[v6]:port…`).

use percent_encoding::percent_decode_str;

/// Username, password and the rest of `s` after the credentials (all of `s` when it has
/// none). An empty username is none.
pub(crate) fn credentials(s: &str) -> (Option<String>, Option<String>, &str) {
    let Some((creds, rest)) = s.rsplit_once('@') else {
        return (None, None, s);
    };
    let (user, password) = match creds.split_once(':') {
        Some((u, p)) => (u, Some(decode(p))),
        None => (creds, None),
    };
    ((!user.is_empty()).then(|| decode(user)), password, rest)
}

/// `host[:port]` items, comma-separated (a port defaults to `default_port`; an IPv6
/// address in brackets); `what` names a host in the error about a bad port.
pub(crate) fn hosts(
    list: &str,
    default_port: u16,
    what: &str,
) -> Result<Vec<(String, u16)>, String> {
    let mut out = Vec::new();
    for h in list.split(',').filter(|h| !h.is_empty()) {
        let (host, port) = match h.rsplit_once(':') {
            Some((host, p)) => (
                host,
                p.parse::<u16>()
                    .map_err(|_| format!("bad {what} port in {h:?}"))?,
            ),
            None => (h, default_port),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        out.push((host.to_string(), port));
    }
    Ok(out)
}

/// `%XX` escapes decoded; an invalid escape or byte sequence is kept (lossily).
fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_with_default_ports_and_ipv6() {
        assert_eq!(
            hosts("a:1,,[::1]:2,b", 9, "node"),
            Ok(vec![("a".into(), 1), ("::1".into(), 2), ("b".into(), 9)])
        );
        assert_eq!(
            hosts("a:x", 9, "node"),
            Err("bad node port in \"a:x\"".into())
        );
    }

    #[test]
    fn decodes_escapes_and_keeps_broken_ones() {
        assert_eq!(decode("p%40ss%3A%2F"), "p@ss:/");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
    }

    #[test]
    fn decodes_a_multi_byte_utf8_escape() {
        assert_eq!(decode("caf%C3%A9-%E2%82%AC"), "café-€");
    }

    #[test]
    fn splits_user_password_and_rest() {
        let (u, p, rest) = credentials("ciq:p%40ss@a:1,b:2/m");
        assert_eq!(
            (u.as_deref(), p.as_deref(), rest),
            (Some("ciq"), Some("p@ss"), "a:1,b:2/m")
        );
        assert_eq!(credentials(":pw@h"), (None, Some("pw".into()), "h"));
        assert_eq!(credentials("user@h"), (Some("user".into()), None, "h"));
        assert_eq!(credentials("h:1/m"), (None, None, "h:1/m"));
    }
}
