//! The credentials part of a Sentinel or Cluster broker URL (`[user[:pass]@]rest`),
//! percent-decoded (`percent-encoding`): a password may hold `@`, `:` or `/` escaped.

use percent_encoding::percent_decode_str;

/// Username, password and the rest of `s` after the credentials (all of `s` when it has
/// none). An empty username is none.
pub(crate) fn split(s: &str) -> (Option<String>, Option<String>, &str) {
    let Some((creds, rest)) = s.rsplit_once('@') else {
        return (None, None, s);
    };
    let (user, password) = match creds.split_once(':') {
        Some((u, p)) => (u, Some(decode(p))),
        None => (creds, None),
    };
    ((!user.is_empty()).then(|| decode(user)), password, rest)
}

/// `%XX` escapes decoded; an invalid escape or byte sequence is kept (lossily).
fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let (u, p, rest) = split("ciq:p%40ss@a:1,b:2/m");
        assert_eq!(
            (u.as_deref(), p.as_deref(), rest),
            (Some("ciq"), Some("p@ss"), "a:1,b:2/m")
        );
        assert_eq!(split(":pw@h"), (None, Some("pw".into()), "h"));
        assert_eq!(split("user@h"), (Some("user".into()), None, "h"));
        assert_eq!(split("h:1/m"), (None, None, "h:1/m"));
    }
}
